/**
 * One proxied HTTP request (absolute-form `http://` or `https://`). For `https://` the proxy makes
 * the TLS connection itself, which is what lets it add a secret the sandbox names in
 * `x-ipa-secret` — only when the destination is one of the secret's bound hosts — and remove the
 * value from everything the host sends back.
 */
import http from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { ruleAllows } from './policy.js';
import {
  type Attachment,
  type EgressOutcome,
  type EgressProxy,
  EgressRefusal,
  type EgressSecret,
  respondRefusal,
} from './proxy.js';
import { ScrubStream, scrubText, secretForms } from './scrub.js';

export const secretHeader = 'x-ipa-secret';
const hopByHop = new Set([
  'connection',
  'proxy-connection',
  'proxy-authorization',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  secretHeader,
]);

function targetOf(req: http.IncomingMessage): URL {
  const raw = req.url ?? '';
  if (/^https?:\/\//i.test(raw)) return new URL(raw);
  throw new EgressRefusal(
    400,
    'requests to the egress proxy name their destination in full (http://host/path)',
  );
}

/** The secrets a request names, checked against the destination; applied to headers and URL. */
async function applySecrets(
  attachment: Attachment,
  url: URL,
  port: number,
  names: string[],
  headers: http.OutgoingHttpHeaders,
): Promise<EgressSecret[]> {
  const used: EgressSecret[] = [];
  for (const name of names) {
    const secret = await attachment.context.secret(name);
    if (!secret) throw new EgressRefusal(403, `there is no secret named ${name}`);
    if (url.protocol !== 'https:')
      throw new EgressRefusal(
        403,
        `secret ${name} is sent over https only, not to ${url.protocol}//${url.hostname}`,
      );
    if (!ruleAllows(secret.hosts, url.hostname, port))
      throw new EgressRefusal(
        403,
        `secret ${name} is not bound to ${url.hostname}:${port}: bind the host to the secret to use it there`,
      );
    if (secret.header)
      headers[secret.header.name.toLowerCase()] = secret.header.template.replaceAll('{value}', secret.value);
    if (secret.query) url.searchParams.set(secret.query, secret.value);
    used.push(secret);
  }
  return used;
}

export async function forwardRequest(
  proxy: EgressProxy,
  attachment: Attachment,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const started = performance.now();
  const { context } = attachment;
  const options = proxy.options;
  let host = '';
  let port = 0;
  let sent = 0;
  let received = 0;
  let status: number | null = null;
  let recorded = false;
  const finish = (outcome: EgressOutcome, reason: string | null) => {
    if (recorded) return;
    recorded = true;
    proxy.record({
      userId: context.userId,
      executionId: context.executionId,
      host,
      port,
      method: req.method ?? 'GET',
      status,
      bytesSent: sent,
      bytesReceived: received,
      durationMs: Math.round(performance.now() - started),
      outcome,
      reason,
    });
  };
  let url: URL;
  let upstreamReq: http.ClientRequest;
  let forms: Buffer[] = [];
  try {
    url = targetOf(req);
    host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const resolved = await proxy.admit(attachment, host, port);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!hopByHop.has(name)) headers[name] = value;
    const names = String(req.headers[secretHeader] ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean);
    const secrets = await applySecrets(attachment, url, port, names, headers);
    forms = secretForms(secrets.map((s) => s.value));
    // The value is removed from what comes back, which needs the body as plain bytes.
    if (forms.length > 0) headers['accept-encoding'] = 'identity';
    headers.host = url.host;
    const lib = url.protocol === 'https:' ? https : http;
    upstreamReq = lib.request({
      host,
      port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: url.protocol === 'https:' ? proxy.httpsAgent : proxy.httpAgent,
      servername: url.protocol === 'https:' ? host : undefined,
      // The connection goes to the address that was checked, not to a second lookup.
      lookup: (_name, opts, callback) => {
        const answer = callback as (e: Error | null, a: unknown, f?: number) => void;
        if ((opts as { all?: boolean }).all) answer(null, [resolved]);
        else answer(null, resolved.address, resolved.family);
      },
    });
  } catch (error) {
    const refusal = error instanceof EgressRefusal ? error : new EgressRefusal(400, (error as Error).message);
    status = refusal.status;
    respondRefusal(res, refusal.status, `egress refused: ${refusal.message}`);
    req.resume();
    finish('refused', refusal.message);
    return;
  }
  let failure: string | null = null;
  const fail = (reason: string, code: number) => {
    failure ??= reason;
    upstreamReq.destroy();
    if (!res.headersSent) status = code;
    respondRefusal(res, code, `egress failed: ${failure}`);
  };
  const timer = setTimeout(
    () =>
      fail(
        `${host}:${port} did not answer within ${options.requestTimeoutMs} ms (EGRESS_REQUEST_TIMEOUT_MS)`,
        504,
      ),
    options.requestTimeoutMs,
  );
  const limit = () =>
    fail(
      `the execution sent and received over ${options.maxBytesPerExecution} bytes (EGRESS_MAX_BYTES)`,
      507,
    );
  attachment.sockets.add(req.socket);
  req.on('data', (chunk: Buffer) => {
    sent += chunk.length;
    if (!proxy.count(attachment, chunk.length)) limit();
  });
  req.pipe(upstreamReq);
  upstreamReq.on('error', (error) => fail(`${host}:${port}: ${error.message}`, 502));
  upstreamReq.on('response', (upstream) => {
    status = upstream.statusCode ?? 502;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (hopByHop.has(name) || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.map((v) => scrubText(v, forms)) : scrubText(value, forms);
    }
    let body: NodeJS.ReadableStream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (!proxy.count(attachment, chunk.length)) limit();
    });
    if (forms.length > 0) {
      // The scrubbed body may differ in length and arrives decoded.
      delete headers['content-length'];
      const encoding = String(upstream.headers['content-encoding'] ?? '').toLowerCase();
      const decoder =
        encoding === 'gzip' || encoding === 'x-gzip'
          ? zlib.createGunzip()
          : encoding === 'deflate'
            ? zlib.createInflate()
            : encoding === 'br'
              ? zlib.createBrotliDecompress()
              : undefined;
      if (encoding && encoding !== 'identity' && !decoder) {
        upstream.destroy();
        fail(`${host} answered in an encoding (${encoding}) the proxy cannot check for secrets`, 502);
        return;
      }
      if (decoder) {
        delete headers['content-encoding'];
        body = upstream.pipe(decoder);
      }
      body = body.pipe(new ScrubStream(forms));
    }
    res.writeHead(status, upstream.statusMessage, headers);
    pipeline(body, res, (error) => {
      clearTimeout(timer);
      attachment.sockets.delete(req.socket);
      if (error && !failure) failure = `${host}:${port}: the answer was cut off (${error.message})`;
      finish(failure ? 'failed' : 'allowed', failure);
    });
  });
  let answered = false;
  upstreamReq.once('response', () => {
    answered = true;
  });
  upstreamReq.on('close', () => {
    if (!answered) {
      clearTimeout(timer);
      attachment.sockets.delete(req.socket);
      finish('failed', failure ?? `${host}:${port}: the connection closed without an answer`);
    }
  });
}
