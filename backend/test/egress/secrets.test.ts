/**
 * Secret canary: a secret bound to host A is added by the worker-side proxy to requests to A and
 * never to B, and its value is nowhere on the sandbox's side — not in its environment, files, a
 * heap snapshot the script takes of itself, output, events, the request log or what the agent's
 * tool hands the model — also when A echoes the request back. Another user cannot use it, and a
 * key rotation keeps every secret readable.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestThroughProxy } from '../../src/egress/request.js';
import { SecretBox } from '../../src/egress/secret-box.js';
import { Secrets } from '../../src/egress/secrets.js';
import { createEgress, type Egress } from '../../src/egress/service.js';
import type { ManagedSandboxOrchestrator, SandboxEvent } from '../../src/sandbox/index.js';
import { availableLevels, createPool, makeRoot, removeRoot } from '../sandbox/support.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';
import { type EchoServers, startEchoServers, testLookup } from './support.js';

const levels = await availableLevels();
const key1 = `k1:${SecretBox.generateKey()}`;
const canary = `canary-${randomBytes(12).toString('hex')}`;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}

describe('user secrets', () => {
  let platform: TestPlatform;
  let servers: EchoServers;
  let egress: Egress;
  let x: { id: string };
  let y: { id: string };

  beforeAll(async () => {
    servers = await startEchoServers();
    platform = await createTestPlatform({
      env: {
        IPA_SECRETS_KEY: key1,
        EGRESS_ALLOW: `api.test:${servers.httpPort}|${servers.httpsPort} other.test:${servers.httpPort}|${servers.httpsPort}`,
        EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
      },
    });
    const store = platform.services.store;
    egress = createEgress(
      { config: platform.config, store, metrics: platform.services.metrics },
      { lookup: testLookup, ca: servers.ca },
    );
    x = await store.users.create({ name: 'x' });
    y = await store.users.create({ name: 'y' });
    await egress.secrets.put(x.id, {
      name: 'CANARY',
      value: canary,
      hosts: [`api.test:${servers.httpsPort}`],
      delivery: { header: 'Authorization', template: 'Bearer {value}' },
    });
  });

  afterAll(async () => {
    await egress?.shutdown();
    await servers?.close();
    await platform?.cleanup();
  });

  const execution = async (userId: string) =>
    platform.services.store.executions.create({
      userId,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });

  it('lists names and bindings, never a value', async () => {
    const listed = await egress.secrets.list(x.id);
    expect(listed).toEqual([
      expect.objectContaining({
        name: 'CANARY',
        hosts: [`api.test:${servers.httpsPort}`],
        delivery: { header: 'Authorization', template: 'Bearer {value}' },
      }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(canary);
    expect(await egress.secrets.list(y.id)).toEqual([]);
  });

  it('is sent to its bound host only, with the echo scrubbed (agent tool path)', async () => {
    const run = await execution(x.id);
    const context = egress.contextFor({ id: run.id, userId: x.id });
    const before = servers.seen.length;
    const toA = await requestThroughProxy(
      egress.proxy,
      context,
      { method: 'GET', url: `https://api.test:${servers.httpsPort}/echo?q=1`, secrets: ['CANARY'] },
      { maxBodyChars: 100_000 },
    );
    expect(toA.status).toBe(200);
    expect(servers.seen.at(-1)?.headers.authorization).toBe(`Bearer ${canary}`);
    // What the model would see: the echo of the header, in body and headers, without the value.
    expect(JSON.stringify(toA)).not.toContain(canary);
    expect(toA.body).toContain('Bearer [secret removed]');
    const toB = await requestThroughProxy(
      egress.proxy,
      context,
      { method: 'GET', url: `https://other.test:${servers.httpsPort}/`, secrets: ['CANARY'] },
      { maxBodyChars: 100_000 },
    );
    expect(toB.refused).toBe(true);
    expect(toB.body).toMatch(/secret CANARY is not bound to other\.test/);
    const plain = await requestThroughProxy(
      egress.proxy,
      context,
      { method: 'GET', url: `http://api.test:${servers.httpPort}/`, secrets: ['CANARY'] },
      { maxBodyChars: 100_000 },
    );
    expect(plain.body).toMatch(/https only/);
    expect(JSON.stringify(servers.seen.slice(before + 1))).not.toContain(canary);
    // The request log (written after the answer) names the refusals, never the value.
    await expect
      .poll(async () => (await platform.services.store.egress.listRequests(run.id)).map((e) => e.outcome))
      .toEqual(['allowed', 'refused', 'refused']);
    const log = await platform.services.store.egress.listRequests(run.id);
    expect(JSON.stringify(log)).not.toContain(canary);
    // Counted by outcome, and the refusals are in the audit log.
    const metrics = await platform.services.metrics.registry.metrics();
    expect(metrics).toMatch(/ipa_egress_requests_total\{outcome="refused"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/ipa_egress_requests_total\{outcome="allowed"[^}]*\} [1-9]/);
    const audit = await platform.services.store.audit.list({ limit: 100 });
    const refusals = audit.items.filter(
      (e) => e.action === 'egress.refused' && e.target === `execution:${run.id}`,
    );
    expect(refusals).toHaveLength(2);
    expect(JSON.stringify(audit)).not.toContain(canary);
  });

  it("user X's secret is not usable by user Y", async () => {
    const run = await execution(y.id);
    const before = servers.seen.length;
    const answer = await requestThroughProxy(
      egress.proxy,
      egress.contextFor({ id: run.id, userId: y.id }),
      { method: 'GET', url: `https://api.test:${servers.httpsPort}/`, secrets: ['CANARY'] },
      { maxBodyChars: 100_000 },
    );
    expect(answer.status).toBe(403);
    expect(answer.body).toMatch(/there is no secret named CANARY/);
    expect(servers.seen.length).toBe(before);
  });

  it('a key rotation re-encrypts every secret and keeps it readable', async () => {
    const store = platform.services.store;
    const key2 = `k2:${SecretBox.generateKey()}`;
    const rotated = new Secrets(() => store.egress, new SecretBox(`${key2},${key1}`));
    expect(await rotated.rotate()).toBeGreaterThanOrEqual(1);
    expect((await store.egress.getSecret(x.id, 'CANARY'))?.keyId).toBe('k2');
    const onlyNew = new Secrets(() => store.egress, new SecretBox(key2));
    expect((await onlyNew.resolve(x.id, 'CANARY'))?.value).toBe(canary);
    expect(await onlyNew.rotate()).toBe(0);
    // The old key alone no longer opens it: the value really was re-encrypted.
    await expect(
      new Secrets(() => store.egress, new SecretBox(key1)).resolve(x.id, 'CANARY'),
    ).rejects.toThrow(/k2/);
    // A ciphertext copied onto another user's row does not open (owner and name are bound in).
    const stored = await store.egress.getSecret(x.id, 'CANARY');
    await store.egress.putSecret({ ...(stored as NonNullable<typeof stored>), userId: y.id });
    await expect(onlyNew.resolve(y.id, 'CANARY')).rejects.toThrow();
    await store.egress.deleteSecret(y.id, 'CANARY');
    // Back to the key the other tests use.
    await new Secrets(() => store.egress, new SecretBox(`${key1},${key2}`)).rotate();
  });

  describe.runIf(levels.includes('bwrap'))('inside a bwrap sandbox', () => {
    let root: string;
    let pool: ManagedSandboxOrchestrator;
    beforeAll(async () => {
      root = await makeRoot();
      pool = await createPool(root, 'bwrap', {
        egress: egress.proxy,
        userQuotaBytes: 64 * 1024 * 1024,
        maxFileBytes: 32 * 1024 * 1024,
        memoryMb: 384,
      });
    });
    afterAll(async () => {
      await pool?.shutdown();
      if (root) await removeRoot(root);
    });

    it('never holds the value: environment, files, heap, output, events, result', async () => {
      const run = await execution(x.id);
      const before = servers.seen.length;
      const lease = await pool.acquire(x.id);
      const events: SandboxEvent[] = [];
      let result: unknown;
      try {
        const outcome = await lease.run(
          {
            language: 'javascript',
            timeoutMs: 20_000,
            egress: egress.contextFor({ id: run.id, userId: x.id }),
            code: `
              const fs = require('node:fs');
              // A canary-shaped string this process does hold: the scan below must find it.
              globalThis.held = ['canary-', 'ab'.repeat(12)].join('');
              const a = await fetch('https://api.test:${servers.httpsPort}/a', { headers: { 'x-ipa-secret': 'CANARY' } });
              const echoed = await a.text();
              const echoedHeader = a.headers.get('x-echo-authorization');
              const b = await fetch('https://other.test:${servers.httpsPort}/b', { headers: { 'x-ipa-secret': 'CANARY' } });
              fs.writeFileSync('echo.json', echoed);
              console.log(echoed, echoedHeader, await b.text());
              // A heap snapshot of this very process, searched for anything canary-like.
              const snapshot = require('node:v8').getHeapSnapshot();
              let tail = '';
              const found = new Set();
              for await (const chunk of snapshot) {
                const text = tail + chunk.toString();
                for (const m of text.matchAll(/canary-[0-9a-f]{24}/g)) found.add(m[0]);
                tail = text.slice(-64);
              }
              return { status: a.status, echoedHeader, refused: b.status, env: process.env, found: [...found] };`,
          },
          { onEvent: (e) => events.push(e) },
        );
        result = outcome.result;
        expect(outcome.exitCode).toBe(0);
      } finally {
        lease.release();
      }
      expect(result).toMatchObject({
        status: 200,
        echoedHeader: 'Bearer [secret removed]',
        refused: 403,
        found: [`canary-${'ab'.repeat(12)}`],
      });
      // A received it; B did not.
      const seen = servers.seen.slice(before);
      expect(seen.find((s) => s.url === '/a')?.headers.authorization).toBe(`Bearer ${canary}`);
      expect(seen.some((s) => s.url === '/b')).toBe(false);
      // Nothing of the sandbox's side holds it.
      expect(JSON.stringify(result)).not.toContain(canary);
      expect(JSON.stringify(events)).not.toContain(canary);
      const files = await walk(pool.userDir(x.id));
      expect(files.some((f) => f.endsWith('echo.json'))).toBe(true);
      for (const file of files) expect((await fs.readFile(file)).includes(canary)).toBe(false);
      // The process environment of the sandbox, read from outside it.
      const pid = pool.processIdOf(x.id);
      if (pid) {
        const environ = await fs.readFile(`/proc/${pid}/environ`).catch(() => Buffer.alloc(0));
        expect(environ.includes(canary)).toBe(false);
      }
    });
  });
});
