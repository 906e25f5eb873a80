/**
 * Egress from real sandboxes (bwrap where this machine offers it): allowed destinations are
 * reached from JavaScript, TypeScript, curl and Python through the proxy socket; everything else
 * is refused with a message naming the host and the setting, and no other route out exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EgressProxy } from '../../src/egress/proxy.js';
import type { ManagedSandboxOrchestrator, ScriptLanguage } from '../../src/sandbox/index.js';
import { findExecutable } from '../../src/sandbox/isolation.js';
import { availableLevels, createPool, makeRoot, newUserId, removeRoot } from '../sandbox/support.js';
import { contextFor, type EchoServers, startEchoServers, testProxy } from './support.js';

const levels = await availableLevels();
const bwrap = levels.includes('bwrap');

describe.runIf(bwrap)('egress from a bwrap sandbox', () => {
  let root: string;
  let pool: ManagedSandboxOrchestrator;
  let proxy: EgressProxy;
  let servers: EchoServers;
  let records: ReturnType<typeof testProxy>['records'];
  const user = newUserId();

  beforeAll(async () => {
    servers = await startEchoServers();
    ({ proxy, records } = testProxy(servers.ca));
    root = await makeRoot();
    pool = await createPool(root, 'bwrap', { egress: proxy });
  });

  afterAll(async () => {
    await pool?.shutdown();
    await proxy?.shutdown();
    await servers?.close();
    if (root) await removeRoot(root);
  });

  const allow = () => `api.test:${servers.httpPort}|${servers.httpsPort}`;

  async function run(language: ScriptLanguage, code: string, allowList = allow()) {
    const lease = await pool.acquire(user);
    let stdout = '';
    let stderr = '';
    try {
      const result = await lease.run(
        { language, code, timeoutMs: 10_000, egress: contextFor(user, allowList) },
        {
          onEvent: (e) => {
            if (e.kind !== 'output') return;
            if (e.stream === 'stdout') stdout += e.data;
            else stderr += e.data;
          },
        },
      );
      return { result, stdout, stderr };
    } finally {
      lease.release();
    }
  }

  it('reaches an allowed host from JavaScript fetch (http and https)', async () => {
    const out = await run(
      'javascript',
      `const a = await fetch('http://api.test:${servers.httpPort}/js?x=1');
       const b = await fetch('https://api.test:${servers.httpsPort}/js-tls', { method: 'POST', body: 'hi' });
       return [a.status, (await a.json()).url, b.status, (await b.json()).body];`,
    );
    expect(out.stderr).toBe('');
    expect(out.result.result).toEqual([200, '/js?x=1', 200, 'hi']);
  });

  it('reaches an allowed host from TypeScript', async () => {
    const out = await run(
      'typescript',
      `const r: Response = await fetch('https://api.test:${servers.httpsPort}/ts');
       const body = (await r.json()) as { url: string };
       return body.url;`,
    );
    expect(out.result.result).toBe('/ts');
  });

  it.runIf(findExecutable('curl'))('reaches an allowed host from curl (http and CONNECT)', async () => {
    const out = await run(
      'shell',
      `curl -sS http://api.test:${servers.httpPort}/curl && echo && curl -sS -k https://api.test:${servers.httpsPort}/curl-tls`,
    );
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('"url":"/curl"');
    expect(out.stdout).toContain('"url":"/curl-tls"');
  });

  it.runIf(findExecutable('python3'))('reaches an allowed host from Python urllib', async () => {
    const out = await run(
      'python',
      `import urllib.request\nprint(urllib.request.urlopen('http://api.test:${servers.httpPort}/py').read().decode())`,
    );
    expect(out.stdout).toContain('"url":"/py"');
  });

  it('refuses a host, a raw IP and a port the policy does not allow, naming the setting', async () => {
    const out = await run(
      'javascript',
      `const texts = [];
       for (const url of ['http://other.test:${servers.httpPort}/', 'http://127.0.0.1:${servers.httpPort}/', 'http://api.test:1/']) {
         const r = await fetch(url);
         texts.push([r.status, r.headers.get('x-ipa-egress'), await r.text()]);
       }
       return texts;`,
    );
    const [host, ip, port] = out.result.result as [number, string, string][];
    expect(host?.slice(0, 2)).toEqual([403, 'refused']);
    expect(host?.[2]).toMatch(/other\.test.*EGRESS_ALLOW/);
    expect(ip?.[2]).toMatch(/127\.0\.0\.1.*raw IP/);
    expect(port?.[2]).toMatch(/api\.test:1 .*EGRESS_ALLOW/);
    expect(servers.seen.some((s) => s.host.startsWith('other.test') || s.host.startsWith('127.'))).toBe(
      false,
    );
  });

  it.runIf(findExecutable('curl'))('refuses a CONNECT to a disallowed host', async () => {
    const out = await run(
      'shell',
      `curl -sS -k https://other.test:${servers.httpsPort}/ 2>&1; echo "exit=$?"`,
    );
    expect(out.stdout).toMatch(/403/);
    expect(out.stdout).not.toMatch(/exit=0/);
    expect(
      records.some((r) => r.method === 'CONNECT' && r.host === 'other.test' && r.outcome === 'refused'),
    ).toBe(true);
  });

  it('has no other route out: a direct socket to the test server fails', async () => {
    const out = await run(
      'javascript',
      `const net = require('node:net');
       return await new Promise((resolve) => {
         const s = net.connect(${servers.httpPort}, '127.0.0.1');
         s.on('connect', () => { s.destroy(); resolve('connected'); });
         s.on('error', (e) => resolve(e.code));
       });`,
    );
    expect(out.result.result).toBe('ECONNREFUSED');
  });
});
