/**
 * The sandbox's side of egress. The worker binds its proxy's Unix socket into the sandbox and
 * names it in IPA_EGRESS_SOCKET; nothing else of the network is reachable (bwrap: an empty
 * network namespace with only its own loopback).
 * - A loopback bridge (127.0.0.1:<port> → the socket), so tools that speak to a TCP proxy work
 *   unchanged through http_proxy/https_proxy: curl, Python's urllib and requests.
 * - `fetch` for scripts, sending every request to the proxy in absolute form. For `https://`
 *   URLs the proxy makes the TLS connection itself, which is how a secret named in the
 *   `x-ipa-secret` header is added on the worker's side without ever entering this process.
 *   Written by hand over node:http because Node 20's built-in fetch ignores proxy settings and
 *   the undici package (whose ProxyAgent would do this) is not visible inside the sandbox.
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';

const socketPath = process.env.IPA_EGRESS_SOCKET;
delete process.env.IPA_EGRESS_SOCKET;

let bridge: Promise<number | undefined> | undefined;

function startBridge(): Promise<number | undefined> {
  if (!socketPath) return Promise.resolve(undefined);
  bridge ??= new Promise((resolve) => {
    const server = net.createServer((client) => {
      const upstream = net.connect(socketPath);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.on('error', () => resolve(undefined));
    server.listen(0, '127.0.0.1', () => {
      server.unref();
      resolve((server.address() as net.AddressInfo).port);
    });
  });
  return bridge;
}

/** Proxy variables for child processes (empty without a proxy: no egress at all). */
export async function egressEnvironment(): Promise<Record<string, string>> {
  const port = await startBridge();
  if (port === undefined) return {};
  const proxy = `http://127.0.0.1:${port}`;
  return {
    http_proxy: proxy,
    https_proxy: proxy,
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    no_proxy: '',
    NO_PROXY: '',
  };
}

const redirects = new Set([301, 302, 303, 307, 308]);
const nullBodyStatus = new Set([101, 204, 205, 304]);

function send(request: Request, body: Buffer | undefined): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body) headers['content-length'] = String(body.length);
    const outgoing = http.request({
      socketPath,
      method: request.method,
      path: request.url,
      headers,
      signal: request.signal,
    });
    outgoing.once('response', resolve);
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}

/** `fetch` through the egress proxy; redirects followed here as fetch would. */
export async function egressFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  if (!socketPath) throw new TypeError('fetch failed: this sandbox has no network egress');
  let request = new Request(input, init);
  let body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  for (let hop = 0; ; hop++) {
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`fetch failed: ${url.protocol} URLs are not supported`);
    const answer = await send(request, body);
    const status = answer.statusCode ?? 502;
    const location = answer.headers.location;
    if (redirects.has(status) && location && request.redirect !== 'manual') {
      answer.resume();
      if (request.redirect === 'error' || hop >= 20)
        throw new TypeError('fetch failed: redirect not followed');
      const next = new URL(location, url);
      const headers = new Headers(request.headers);
      // Credentials and secret names are not carried to another origin.
      if (next.origin !== url.origin) {
        headers.delete('authorization');
        headers.delete('x-ipa-secret');
        headers.delete('cookie');
      }
      const toGet = status === 303 || ((status === 301 || status === 302) && request.method === 'POST');
      if (toGet) {
        headers.delete('content-type');
        headers.delete('content-length');
        body = undefined;
      }
      request = new Request(next, {
        method: toGet ? (request.method === 'HEAD' ? 'HEAD' : 'GET') : request.method,
        headers,
        redirect: request.redirect,
        signal: request.signal,
        body,
      });
      continue;
    }
    const headers = new Headers();
    for (let i = 0; i < answer.rawHeaders.length; i += 2)
      headers.append(answer.rawHeaders[i] as string, answer.rawHeaders[i + 1] as string);
    const empty = nullBodyStatus.has(status) || request.method === 'HEAD';
    if (empty) answer.resume();
    const response = new Response(empty ? null : (Readable.toWeb(answer) as ReadableStream), {
      status,
      statusText: answer.statusMessage,
      headers,
    });
    Object.defineProperty(response, 'url', { value: request.url });
    return response;
  }
}
