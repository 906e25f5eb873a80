/**
 * The egress proxy on its own, spoken to over its Unix socket as a sandbox would: address checks
 * (SSRF, rebinding), policy levels that only narrow, limits, and requests outside an execution.
 */
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PolicyLevels, parseAllowList } from '../../src/egress/policy.js';
import type { EgressProxy, Lookup } from '../../src/egress/proxy.js';
import { contextFor, type EchoServers, startEchoServers, testLookup, testProxy } from './support.js';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function viaProxy(
  socketPath: string,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent: false,
      socketPath,
      path: url,
      method: options.method ?? 'GET',
      headers: options.headers,
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export function connectVia(socketPath: string, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: 'CONNECT', path: target });
    req.on('connect', (res, socket, head) => {
      if (res.statusCode === 200) {
        socket.destroy();
        resolve({ status: 200, text: '' });
        return;
      }
      let text = head.toString();
      socket.on('data', (c: Buffer) => {
        text += c.toString();
      });
      socket.on('close', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('egress proxy', () => {
  let servers: EchoServers;
  const proxies: EgressProxy[] = [];
  beforeAll(async () => {
    servers = await startEchoServers();
  });
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.shutdown();
  });
  afterAll(async () => {
    await servers.close();
  });

  async function open(overrides: Parameters<typeof testProxy>[1] = {}) {
    const made = testProxy(servers.ca, overrides);
    proxies.push(made.proxy);
    const socket = await made.proxy.open('sandbox-1');
    return { ...made, socket };
  }

  const allow = () => `api.test:${servers.httpPort}|${servers.httpsPort} *.wild.test:${servers.httpPort}`;

  it('forwards an allowed request and records it', async () => {
    const { proxy, socket, records } = await open();
    proxy.attach('sandbox-1', contextFor('user-1', allow(), { executionId: 'exec-9' }));
    const answer = await viaProxy(socket, `http://a.wild.test:${servers.httpPort}/ok`);
    expect(answer.status).toBe(200);
    expect(records.at(-1)).toMatchObject({
      executionId: 'exec-9',
      host: 'a.wild.test',
      method: 'GET',
      status: 200,
      outcome: 'allowed',
    });
    expect(records.at(-1)?.bytesReceived).toBeGreaterThan(0);
  });

  it('refuses every request while no execution is attached, and after it is detached', async () => {
    const { proxy, socket } = await open();
    const before = await viaProxy(socket, `http://api.test:${servers.httpPort}/`);
    expect(before.status).toBe(403);
    expect(before.body).toMatch(/no execution is running/);
    const detach = proxy.attach('sandbox-1', contextFor('user-1', allow()));
    expect((await viaProxy(socket, `http://api.test:${servers.httpPort}/`)).status).toBe(200);
    detach();
    expect((await viaProxy(socket, `http://api.test:${servers.httpPort}/`)).status).toBe(403);
    expect((await connectVia(socket, `api.test:${servers.httpsPort}`)).status).toBe(403);
  });

  const unsafe: [string, string, number][] = [
    ['a rebinding name (loopback)', '127.0.0.1', 4],
    ['the metadata address', '169.254.169.254', 4],
    ['a private address', '10.1.2.3', 4],
    ['CGNAT', '100.64.0.1', 4],
    ['IPv6 loopback', '::1', 6],
    ['IPv6 link-local', 'fe80::1', 6],
    ['IPv6 ULA', 'fd00::1', 6],
    ['an IPv4-mapped loopback', '::ffff:127.0.0.1', 6],
  ];
  it.each(unsafe)(
    'refuses a name that resolves to %s unless its range is allowed',
    async (_label, address, family) => {
      const lookup: Lookup = async () => ({ address, family });
      const { proxy, socket, records } = await open({ allowCidrs: [], lookup });
      proxy.attach('sandbox-1', contextFor('user-1', allow()));
      const answer = await viaProxy(socket, `http://api.test:${servers.httpPort}/`);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain(`api.test resolves to ${address}`);
      expect(answer.body).toContain('EGRESS_ALLOW_CIDRS');
      expect((await connectVia(socket, `api.test:${servers.httpsPort}`)).status).toBe(403);
      expect(records.filter((r) => r.outcome === 'refused')).toHaveLength(2);
    },
  );

  it('loopback is reachable only because the test allows 127.0.0.0/8 explicitly', async () => {
    const { proxy, socket } = await open({ allowCidrs: ['127.0.0.0/8'], lookup: testLookup });
    proxy.attach('sandbox-1', contextFor('user-1', allow()));
    expect((await viaProxy(socket, `http://api.test:${servers.httpPort}/`)).status).toBe(200);
  });

  it('refuses a request in origin form, a raw IP and a non-allowed port', async () => {
    const { proxy, socket } = await open();
    proxy.attach('sandbox-1', contextFor('user-1', allow()));
    expect((await viaProxy(socket, '/relative')).status).toBe(400);
    const ip = await viaProxy(socket, `http://127.0.0.1:${servers.httpPort}/`);
    expect(ip.body).toMatch(/raw IP address/);
    const port = await viaProxy(socket, 'http://api.test:8081/');
    expect(port.status).toBe(403);
    expect(port.body).toMatch(/api\.test:8081 is not allowed by the installation: add it to EGRESS_ALLOW/);
    const tunnel = await connectVia(socket, `other.test:${servers.httpsPort}`);
    expect(tunnel.status).toBe(403);
    expect(tunnel.text).toMatch(/other\.test.*EGRESS_ALLOW/);
  });

  it('an automation cannot widen its owner allowlist, and an admin change applies to the next request', async () => {
    const { proxy, socket } = await open();
    const levels: PolicyLevels = {
      installation: parseAllowList(allow()),
      user: parseAllowList(`api.test:${servers.httpPort}`),
      automation: parseAllowList(`api.test:${servers.httpPort} other.test:${servers.httpPort}`),
    };
    proxy.attach('sandbox-1', contextFor('user-1', '', { levels: async () => levels }));
    expect((await viaProxy(socket, `http://api.test:${servers.httpPort}/`)).status).toBe(200);
    const widened = await viaProxy(socket, `http://other.test:${servers.httpPort}/`);
    expect(widened.status).toBe(403);
    // An admin narrows the user: the very next request is refused, with the user-level message.
    levels.user = parseAllowList('nothing.test');
    const next = await viaProxy(socket, `http://api.test:${servers.httpPort}/`);
    expect(next.status).toBe(403);
    expect(next.body).toMatch(/not in this user's egress allowlist: an admin can add it/);
    levels.user = parseAllowList(`api.test:${servers.httpPort}`);
    levels.automation = parseAllowList('nothing.test');
    expect((await viaProxy(socket, `http://api.test:${servers.httpPort}/`)).body).toMatch(
      /automation's egress allowlist/,
    );
  });

  it('limits bytes per execution', async () => {
    const { proxy, socket, records } = await open({ maxBytesPerExecution: 300 });
    proxy.attach('sandbox-1', contextFor('user-1', allow()));
    const big = await viaProxy(socket, `http://api.test:${servers.httpPort}/`, {
      method: 'POST',
      body: 'x'.repeat(1000),
    }).catch((error: Error) => ({ status: 0, body: error.message, headers: {} }));
    expect(big.status).not.toBe(200);
    expect(records.at(-1)?.reason).toMatch(/EGRESS_MAX_BYTES/);
  });

  it('limits connections per sandbox', async () => {
    const { proxy, socket } = await open({ maxConnections: 1 });
    proxy.attach('sandbox-1', contextFor('user-1', allow()));
    const held = http.request({
      socketPath: socket,
      method: 'CONNECT',
      path: `api.test:${servers.httpsPort}`,
    });
    held.on('error', () => {});
    // The tunnel stays open (without a listener the client would close it at once); the second
    // request goes once it is up.
    const tunnelUp = new Promise<void>((resolve) => held.on('connect', () => resolve()));
    held.end();
    await tunnelUp;
    const second = await new Promise<string>((resolve) => {
      const req = http.request({
        agent: false,
        socketPath: socket,
        path: `http://api.test:${servers.httpPort}/`,
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', (e) => resolve(e.message));
      req.end();
    });
    expect(second).toMatch(/429.*EGRESS_MAX_CONNECTIONS/);
    held.destroy();
  });

  it('ends a request that runs past the time limit', async () => {
    const slow = http.createServer(() => {});
    const port = await new Promise<number>((resolve) =>
      slow.listen(0, '127.0.0.1', () => resolve((slow.address() as { port: number }).port)),
    );
    try {
      const { proxy, socket } = await open({ requestTimeoutMs: 200 });
      proxy.attach('sandbox-1', contextFor('user-1', `api.test:${port}`));
      const answer = await viaProxy(socket, `http://api.test:${port}/`);
      expect(answer.status).toBe(504);
      expect(answer.body).toMatch(/EGRESS_REQUEST_TIMEOUT_MS/);
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });
});
