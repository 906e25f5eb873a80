/**
 * The egress proxy. It runs in the worker, outside every sandbox, and listens on one Unix socket
 * per sandbox process; the socket is the only thing of the network a bwrap sandbox can reach.
 * The socket a connection arrives on says whose sandbox it is, and the execution the worker has
 * attached to that sandbox says which policy and secrets apply — nothing the sandbox sends is
 * trusted for that. With no execution attached (between runs, or work a run left behind) every
 * request is refused.
 *
 * Served: CONNECT (an opaque tunnel, for HTTPS clients such as curl and Python), absolute-form
 * `http://` requests, and absolute-form `https://` requests, which the proxy sends over TLS
 * itself — the only form in which it can add a secret (`x-ipa-secret: NAME`) and scrub the
 * answer. Every name is resolved once, the address checked, and the connection made to that
 * address (no second lookup for a rebinding name to exploit).
 */
import { randomUUID } from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { EgressRequestEntry } from '../store/types.js';
import { forwardRequest } from './forward.js';
import { AddressPolicy, checkDestination, type PolicyLevels } from './policy.js';

export interface EgressSecret {
  name: string;
  value: string;
  /** Hosts the value may be sent to (same form as allowlist rules). */
  hosts: readonly { host: string; ports: number[] }[];
  /** How it is sent: a header (`template` contains `{value}`) or a query parameter. */
  header?: { name: string; template: string };
  query?: string;
}

/** What the worker attaches to a sandbox for the length of one execution. */
export interface EgressContext {
  userId: string;
  executionId: string;
  automationId?: string | null;
  /** Read per request, so an admin's change applies to the next one. */
  levels(): Promise<PolicyLevels>;
  secret(name: string): Promise<EgressSecret | undefined>;
}

/** What the sandbox pool needs of the proxy. */
export interface SandboxEgress {
  open(key: string): Promise<string>;
  close(key: string): Promise<void>;
  attach(key: string, context: EgressContext): () => void;
}

/** One request as the proxy reports it: the request log's entry before it is stored. */
export type EgressRecord = Omit<EgressRequestEntry, 'id' | 'at'>;

export type EgressOutcome = EgressRecord['outcome'];

export type Lookup = (host: string) => Promise<{ address: string; family: number }>;

export interface EgressProxyOptions {
  /** Host directory for the sockets (default: a private temp directory). */
  socketDir?: string;
  allowCidrs?: readonly string[];
  denyCidrs?: readonly string[];
  maxConnections: number;
  maxBytesPerExecution: number;
  requestTimeoutMs: number;
  /** Name resolution (tests substitute one that answers loopback for any name). */
  lookup?: Lookup;
  /** Extra CAs trusted for upstream TLS (tests). */
  ca?: string | Buffer;
  onRecord?: (record: EgressRecord) => void;
}

/** Per sandbox: the listener and the execution currently attached. */
interface Listener {
  server: http.Server;
  path: string;
  connections: number;
  attached?: Attachment;
}

export interface Attachment {
  context: EgressContext;
  bytes: number;
  /** Open sockets of this execution: closed when it is detached. */
  sockets: Set<Duplex>;
}

const defaultLookup: Lookup = async (host) => {
  const { address, family } = await dns.promises.lookup(host, { verbatim: true });
  return { address, family };
};

export class EgressRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class EgressProxy implements SandboxEgress {
  private readonly listeners = new Map<string, Listener>();
  private readonly addresses: AddressPolicy;
  private readonly lookup: Lookup;
  private dir: string | undefined;
  readonly httpAgent = new http.Agent({ keepAlive: true });
  readonly httpsAgent: https.Agent;

  constructor(readonly options: EgressProxyOptions) {
    this.addresses = new AddressPolicy({ allowCidrs: options.allowCidrs, denyCidrs: options.denyCidrs });
    this.lookup = options.lookup ?? defaultLookup;
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
  }

  private socketDir(): string {
    if (this.dir) return this.dir;
    if (this.options.socketDir) fs.mkdirSync(this.options.socketDir, { recursive: true, mode: 0o711 });
    this.dir = this.options.socketDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ipa-egress-'));
    // Traversable but not listable: a socket's random name is its only address on the host.
    fs.chmodSync(this.dir, 0o711);
    return this.dir;
  }

  /** Opens the socket of sandbox `key` (idempotent); returns its host path. */
  async open(key: string): Promise<string> {
    const existing = this.listeners.get(key);
    if (existing) return existing.path;
    const socketPath = path.join(this.socketDir(), `${randomUUID()}.sock`);
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 10_000 });
    const listener: Listener = { server, path: socketPath, connections: 0 };
    server.on('connection', (socket: net.Socket) => {
      listener.connections++;
      socket.once('close', () => listener.connections--);
    });
    server.on('request', (req, res) => void this.onRequest(listener, req, res));
    server.on('connect', (req, socket, head) => void this.onConnect(listener, req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    this.listeners.set(key, listener);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    // The sandbox may run under another uid; the directory keeps the name private.
    fs.chmodSync(socketPath, 0o666);
    return socketPath;
  }

  async close(key: string): Promise<void> {
    const listener = this.listeners.get(key);
    if (!listener) return;
    this.listeners.delete(key);
    this.detachListener(listener);
    listener.server.closeAllConnections();
    await new Promise<void>((resolve) => listener.server.close(() => resolve()));
    fs.rmSync(listener.path, { force: true });
  }

  /** Attaches an execution to sandbox `key`; the returned function detaches it. */
  attach(key: string, context: EgressContext): () => void {
    const listener = this.listeners.get(key);
    if (!listener) return () => {};
    this.detachListener(listener);
    const attachment: Attachment = { context, bytes: 0, sockets: new Set() };
    listener.attached = attachment;
    return () => {
      if (listener.attached === attachment) this.detachListener(listener);
    };
  }

  private detachListener(listener: Listener): void {
    const attachment = listener.attached;
    listener.attached = undefined;
    for (const socket of attachment?.sockets ?? []) socket.destroy();
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.listeners.keys()].map((key) => this.close(key)));
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    if (this.dir && !this.options.socketDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Policy, resolution and address check of one destination: the address to connect to. */
  async admit(
    attachment: Attachment,
    host: string,
    port: number,
  ): Promise<{ address: string; family: number }> {
    const verdict = checkDestination(await attachment.context.levels(), host, port);
    if (!verdict.allowed) throw new EgressRefusal(403, verdict.reason);
    let resolved: { address: string; family: number };
    try {
      resolved = await this.lookup(host);
    } catch (error) {
      throw new EgressRefusal(
        502,
        `${host} could not be resolved (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    const address = this.addresses.check(host, resolved.address);
    if (!address.allowed) throw new EgressRefusal(403, address.reason);
    return resolved;
  }

  /** Adds bytes to the execution's total; over the limit its connections are closed. */
  count(attachment: Attachment, bytes: number): boolean {
    attachment.bytes += bytes;
    return attachment.bytes <= this.options.maxBytesPerExecution;
  }

  private tooMany(): string {
    return `egress refused: this sandbox already has ${this.options.maxConnections} open connections (EGRESS_MAX_CONNECTIONS)`;
  }

  record(record: EgressRecord): void {
    try {
      this.options.onRecord?.(record);
    } catch {
      // Recording never breaks a request.
    }
  }

  private async onRequest(
    listener: Listener,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const attachment = listener.attached;
    if (!attachment) {
      respondRefusal(res, 403, 'egress refused: no execution is running in this sandbox');
      return;
    }
    if (listener.connections > this.options.maxConnections) {
      respondRefusal(res, 429, this.tooMany());
      return;
    }
    await forwardRequest(this, attachment, req, res);
  }

  private async onConnect(
    listener: Listener,
    req: http.IncomingMessage,
    client: Duplex,
    head: Buffer,
  ): Promise<void> {
    const started = performance.now();
    const attachment = listener.attached;
    client.on('error', () => {});
    if (!attachment) {
      client.end(refusalBytes(403, 'egress refused: no execution is running in this sandbox'));
      return;
    }
    if (listener.connections > this.options.maxConnections) {
      client.end(refusalBytes(429, this.tooMany()));
      return;
    }
    const { context } = attachment;
    const target = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(req.url ?? '');
    const host = (target?.[1] ?? '').toLowerCase();
    const port = Number(target?.[2]);
    const base = { userId: context.userId, executionId: context.executionId, host, port, method: 'CONNECT' };
    let sent = 0;
    let received = 0;
    const finish = (outcome: EgressOutcome, status: number | null, reason: string | null) =>
      this.record({
        ...base,
        status,
        bytesSent: sent,
        bytesReceived: received,
        durationMs: Math.round(performance.now() - started),
        outcome,
        reason,
      });
    let resolved: { address: string; family: number };
    try {
      if (!target || !(port > 0 && port < 65_536))
        throw new EgressRefusal(400, `"${req.url}" is not host:port`);
      resolved = await this.admit(attachment, host, port);
    } catch (error) {
      const refusal =
        error instanceof EgressRefusal ? error : new EgressRefusal(502, (error as Error).message);
      client.end(refusalBytes(refusal.status, `egress refused: ${refusal.message}`));
      finish('refused', refusal.status, refusal.message);
      return;
    }
    const upstream = net.connect({ host: resolved.address, port, family: resolved.family });
    attachment.sockets.add(client);
    attachment.sockets.add(upstream);
    let reason: string | null = null;
    const timer = setTimeout(() => {
      reason = `the connection to ${host}:${port} ran past ${this.options.requestTimeoutMs} ms (EGRESS_REQUEST_TIMEOUT_MS)`;
      upstream.destroy();
      client.destroy();
    }, this.options.requestTimeoutMs);
    const overLimit = () => {
      reason = `the execution sent and received over ${this.options.maxBytesPerExecution} bytes (EGRESS_MAX_BYTES)`;
      upstream.destroy();
      client.destroy();
    };
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (!this.count(attachment, chunk.length)) overLimit();
      });
      upstream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (!this.count(attachment, chunk.length)) overLimit();
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
    });
    upstream.on('error', (error) => {
      reason ??= `${host}:${port}: ${error.message}`;
      if (!connected) client.end(refusalBytes(502, `egress failed: ${reason}`));
      else client.destroy();
    });
    upstream.once('close', () => {
      clearTimeout(timer);
      client.destroy();
      attachment.sockets.delete(client);
      attachment.sockets.delete(upstream);
      finish(connected && !reason ? 'allowed' : 'failed', connected ? 200 : 502, reason);
    });
    client.once('close', () => upstream.destroy());
  }
}

export function refusalBytes(status: number, message: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Refused'}\r\ncontent-type: text/plain; charset=utf-8\r\nx-ipa-egress: refused\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

export function respondRefusal(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-ipa-egress': 'refused',
    connection: 'close',
  });
  res.end(`${message}\n`);
}
