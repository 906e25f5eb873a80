/**
 * Loopback test servers for the egress suite: an HTTP and an HTTPS echo server (the HTTPS one
 * with a throwaway certificate made by openssl for the test names), and a resolver that answers
 * 127.0.0.1 for every `*.test` name — which is how a "public" name is made to point at loopback.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type PolicyLevels, parseAllowList } from '../../src/egress/policy.js';
import type { EgressContext, EgressRecord, Lookup } from '../../src/egress/proxy.js';
import { EgressProxy } from '../../src/egress/proxy.js';

export interface Seen {
  host: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface EchoServers {
  httpPort: number;
  httpsPort: number;
  ca: string;
  seen: Seen[];
  close(): Promise<void>;
}

function makeCertificate(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipa-egress-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=egress-test',
        '-addext',
        'subjectAltName=DNS:*.test,DNS:api.test,DNS:other.test',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

let certificate: { key: string; cert: string } | undefined;

export async function startEchoServers(): Promise<EchoServers> {
  certificate ??= makeCertificate();
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        host: String(req.headers.host ?? ''),
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      // Echoes everything back, in the body and in a header, as a hostile or careless API might.
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-echo-authorization': String(req.headers.authorization ?? ''),
        'x-echo-url': entry.url,
      });
      res.end(JSON.stringify(entry));
    });
  };
  const plain = http.createServer(handler);
  const secure = https.createServer({ key: certificate.key, cert: certificate.cert }, handler);
  const listen = (server: net.Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
    );
  const httpPort = await listen(plain);
  const httpsPort = await listen(secure);
  return {
    httpPort,
    httpsPort,
    ca: certificate.cert,
    seen,
    async close() {
      for (const server of [plain, secure]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

/** Every `*.test` name resolves to loopback (a rebinding name, unless loopback is allowed). */
export const testLookup: Lookup = async (host) => {
  if (host.endsWith('.test')) return { address: '127.0.0.1', family: 4 };
  throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
};

export function testProxy(
  ca: string,
  overrides: Partial<ConstructorParameters<typeof EgressProxy>[0]> = {},
): { proxy: EgressProxy; records: EgressRecord[] } {
  const records: EgressRecord[] = [];
  const proxy = new EgressProxy({
    allowCidrs: ['127.0.0.0/8'],
    maxConnections: 16,
    maxBytesPerExecution: 10 * 1024 * 1024,
    requestTimeoutMs: 5000,
    lookup: testLookup,
    ca,
    onRecord: (record) => records.push(record),
    ...overrides,
  });
  return { proxy, records };
}

export function contextFor(
  userId: string,
  allow: string,
  extra: Partial<EgressContext> & { user?: string; automation?: string } = {},
): EgressContext {
  const levels: PolicyLevels = {
    installation: parseAllowList(allow),
    ...(extra.user !== undefined ? { user: parseAllowList(extra.user) } : {}),
    ...(extra.automation !== undefined ? { automation: parseAllowList(extra.automation) } : {}),
  };
  return {
    userId,
    executionId: extra.executionId ?? 'exec-1',
    levels: extra.levels ?? (async () => levels),
    secret: extra.secret ?? (async () => undefined),
  };
}
