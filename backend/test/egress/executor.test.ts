/**
 * End to end through the script executor, as the worker runs it: an execution calls an allowed
 * HTTPS API with a bound secret it never sees, stores the answer in its outputs, and the request
 * is in the execution's egress log. At `process` level the proxy still carries the request (it is
 * only not the *only* way out there).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SecretBox } from '../../src/egress/secret-box.js';
import { createEgress, type Egress } from '../../src/egress/service.js';
import { createFileSync, createScriptExecutor } from '../../src/engine/index.js';
import { createSandboxOrchestrator, type ManagedSandboxOrchestrator } from '../../src/sandbox/index.js';
import { testContext } from '../engine/support/context.js';
import { testConfig } from '../engine/support/doubles.js';
import { makeRoot, removeRoot, testOptions } from '../sandbox/support.js';
import { createTestPlatform, type TestPlatform } from '../support/platform.js';
import { type EchoServers, startEchoServers, testLookup } from './support.js';

let platform: TestPlatform;
let servers: EchoServers;
let egress: Egress;
let pool: ManagedSandboxOrchestrator;
let root: string;
const token = `tok-${randomBytes(10).toString('hex')}`;

beforeAll(async () => {
  servers = await startEchoServers();
  platform = await createTestPlatform({
    env: {
      IPA_SECRETS_KEY: `k1:${SecretBox.generateKey()}`,
      EGRESS_ALLOW: `api.test:${servers.httpsPort}`,
      EGRESS_ALLOW_CIDRS: '127.0.0.0/8',
    },
  });
  egress = createEgress(
    { config: platform.config, store: platform.services.store },
    { lookup: testLookup, ca: servers.ca },
  );
  root = await makeRoot();
  pool = await createSandboxOrchestrator({
    ...testOptions(root, 'bwrap'),
    isolation: 'auto',
    egress: egress.proxy,
  });
});

afterAll(async () => {
  await pool?.shutdown();
  await egress?.shutdown();
  await servers?.close();
  await platform?.cleanup();
  if (root) await removeRoot(root);
});

it('an execution calls an allowed HTTPS API with a bound secret and stores the answer', async () => {
  const store = platform.services.store;
  const user = await store.users.create({ name: 'automation-owner' });
  await egress.secrets.put(user.id, {
    name: 'TICKETS',
    value: token,
    hosts: [`api.test:${servers.httpsPort}`],
    delivery: { query: 'api_key' },
  });
  const input = {
    language: 'javascript' as const,
    code: `const r = await fetch('https://api.test:${servers.httpsPort}/tickets?open=1', { headers: { 'x-ipa-secret': 'TICKETS' } });
      const body = await r.json();
      require('node:fs').writeFileSync('../outputs/tickets.json', JSON.stringify(body));
      return { status: r.status, url: body.url };`,
  };
  const config = testConfig();
  const fileSync = createFileSync({
    files: store.files,
    quotaBytes: config.files.userQuotaBytes,
    quotaFiles: config.files.userQuotaFiles,
  });
  const executor = createScriptExecutor({ orchestrator: pool, fileSync, egress });
  const context = await testContext({ execution: { userId: user.id, kind: 'script', input }, store, config });
  const outcome = await executor.run(context);
  outcome.files?.close(false);
  expect(outcome.status, JSON.stringify(outcome)).toBe('succeeded');
  // The API got the key in its query; the script saw it replaced.
  expect(servers.seen.at(-1)?.url).toBe(`/tickets?open=1&api_key=${token}`);
  expect(outcome.result).toMatchObject({
    result: { status: 200, url: '/tickets?open=1&api_key=[secret removed]' },
  });
  const stored = outcome.files?.writes.find((w) => w.path === 'outputs/tickets.json');
  expect(stored?.content.toString()).toContain('/tickets?open=1');
  expect(stored?.content.toString()).not.toContain(token);
  expect(JSON.stringify(context.recorded)).not.toContain(token);
  // The request log is written after the answer.
  await expect
    .poll(async () =>
      (await store.egress.listRequests(context.execution.id)).map((r) => [r.host, r.outcome, r.status]),
    )
    .toEqual([['api.test', 'allowed', 200]]);
  await fs.rm(pool.userDir(user.id), { recursive: true, force: true });
});
