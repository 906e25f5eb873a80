/**
 * An HTTP request made on a run's behalf by the worker itself (the agent's `http_request` tool).
 * It goes through the same proxy as a sandbox's requests — over a socket of its own attached to
 * the same execution — so the same policy, secrets, scrubbing, limits and request log apply.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { secretHeader } from './forward.js';
import type { EgressContext, EgressProxy } from './proxy.js';

export interface OutboundRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Names of the user's secrets to add (each only if the destination is bound to it). */
  secrets?: string[];
}

export interface OutboundAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  truncated: boolean;
  /** The proxy refused the request (the body says why). */
  refused: boolean;
}

export async function requestThroughProxy(
  proxy: EgressProxy,
  context: EgressContext,
  request: OutboundRequest,
  options: { maxBodyChars: number; signal?: AbortSignal },
): Promise<OutboundAnswer> {
  const key = `worker-${randomUUID()}`;
  const socketPath = await proxy.open(key);
  const detach = proxy.attach(key, context);
  try {
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error('the URL must start with http:// or https://');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers ?? {}))
      if (name.toLowerCase() !== secretHeader) headers[name] = value;
    if (request.secrets?.length) headers[secretHeader] = request.secrets.join(',');
    return await new Promise<OutboundAnswer>((resolve, reject) => {
      const outgoing = http.request({
        socketPath,
        method: request.method,
        path: url.href,
        headers,
        agent: false,
        signal: options.signal,
      });
      outgoing.on('response', (res) => {
        let body = '';
        let truncated = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length + chunk.length > options.maxBodyChars) {
            body += chunk.slice(0, options.maxBodyChars - body.length);
            truncated = true;
            res.destroy();
            finish();
          } else body += chunk;
        });
        const finish = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: Object.fromEntries(
              Object.entries(res.headers).map(([name, value]) => [
                name,
                Array.isArray(value) ? value.join(', ') : String(value),
              ]),
            ),
            body,
            truncated,
            refused: res.headers['x-ipa-egress'] === 'refused',
          });
        res.on('end', finish);
        res.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(request.body);
    });
  } finally {
    detach();
    await proxy.close(key);
  }
}
