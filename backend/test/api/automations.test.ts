import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { signatureHeaderValue } from '../../src/automations/signature.js';
import type { ScriptInput } from '../../src/store/types.js';
import { startWorkerRuntime, type WorkerRuntime } from '../../src/worker/index.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { clientFor, request } from './client.js';

/**
 * The automation API over a real socket: CRUD and versions, schema-checked runs, schedules and
 * signed webhook deliveries. Runs are executed by a stand-in executor (echo the input; code
 * `fail` fails), so the API's promises are tested without sandboxes.
 */

let platform: TestPlatform;
let server: ApiServer;
let worker: WorkerRuntime;
let alice: ReturnType<typeof clientFor>;
let bob: ReturnType<typeof clientFor>;

const missingId = '00000000-0000-4000-8000-000000000000';
const schema = {
  type: 'object',
  properties: { name: { type: 'string' }, count: { type: 'integer', minimum: 1, default: 3 } },
  required: ['name'],
  additionalProperties: false,
};

function expectError(response: { status: number; json: unknown }, status: number, code: string) {
  expect(response.status, JSON.stringify(response.json)).toBe(status);
  expect(response.json).toMatchObject({ error: { code, message: expect.any(String) } });
}

beforeAll(async () => {
  platform = await createTestPlatform({
    env: { USER_CONCURRENCY: '4', WEBHOOK_RATE_LIMIT_PER_MINUTE: '30' },
  });
  worker = startWorkerRuntime({
    services: platform.services,
    executors: [
      {
        kind: 'script',
        async run({ execution }) {
          const input = execution.input as ScriptInput;
          if (input.code === 'fail')
            return { status: 'failed', error: { code: 'script_error', message: 'boom' } };
          return { status: 'succeeded', result: { echo: input.input ?? null } };
        },
      },
    ],
  });
  server = await startTestApi(platform.services, { scheduler: { misfireMs: 2000 } });
  alice = clientFor(server.url, (await createTestUser(platform.services, 'alice')).token);
  bob = clientFor(server.url, (await createTestUser(platform.services, 'bob')).token);
});

afterAll(async () => {
  await server?.drain();
  await worker?.stop(1000);
  await platform?.cleanup();
});

async function create(body: Record<string, unknown> = {}) {
  const response = await alice.post('/api/v1/automations', {
    body: { name: 'Greeter', language: 'javascript', code: 'return input', inputSchema: schema, ...body },
  });
  expect(response.status, response.text).toBe(201);
  return response.json;
}

describe('automations', () => {
  it('creates, reads, lists with search and paging, and saves a new version on each change', async () => {
    const a = await create({ description: 'says hello' });
    expect(a).toMatchObject({ name: 'Greeter', version: 1, enabled: true, inputSchema: schema });
    await create({ name: 'Other thing' });
    const found = await alice.get('/api/v1/automations?search=greet');
    expect(found.json.items.map((x: { id: string }) => x.id)).toContain(a.id);
    expect(found.json.items.every((x: { name: string }) => /greet/i.test(x.name))).toBe(true);
    const first = await alice.get('/api/v1/automations?limit=1');
    expect(first.json.items).toHaveLength(1);
    expect(first.json.nextCursor).toEqual(expect.any(String));

    const v2 = await alice.patch(`/api/v1/automations/${a.id}`, {
      body: { code: 'return 2', expectedVersion: 1 },
    });
    expect(v2.json).toMatchObject({ version: 2, code: 'return 2', inputSchema: schema });
    expectError(
      await alice.patch(`/api/v1/automations/${a.id}`, { body: { code: 'x', expectedVersion: 1 } }),
      409,
      'conflict',
    );
    const versions = await alice.get(`/api/v1/automations/${a.id}/versions`);
    expect(versions.json.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const v1 = await alice.get(`/api/v1/automations/${a.id}/versions/1`);
    expect(v1.json).toMatchObject({ version: 1, code: 'return input' });
    expectError(await alice.get(`/api/v1/automations/${a.id}/versions/7`), 404, 'not_found');
    // Restoring is saving the old content as the newest version.
    const restored = await alice.patch(`/api/v1/automations/${a.id}`, { body: { code: v1.json.code } });
    expect(restored.json).toMatchObject({ version: 3, code: 'return input' });
  });

  it('is strict about bodies and queries, and refuses a schema that is not one', async () => {
    expectError(
      await alice.post('/api/v1/automations', {
        body: { name: 'x', language: 'javascript', code: 'c', extra: 1 },
      }),
      400,
      'validation_failed',
    );
    expectError(await alice.get('/api/v1/automations?colour=red'), 400, 'validation_failed');
    expectError(await alice.get('/api/v1/automations/not-a-uuid'), 400, 'validation_failed');
    const bad = await alice.post('/api/v1/automations', {
      body: { name: 'x', language: 'javascript', code: 'c', inputSchema: { type: 'nonsense' } },
    });
    expectError(bad, 400, 'validation_failed');
    expect(bad.json.error.details[0].path).toBe('body.inputSchema');
  });

  it("answers 404 for another user's automation everywhere", async () => {
    const a = await create();
    for (const response of [
      await bob.get(`/api/v1/automations/${a.id}`),
      await bob.patch(`/api/v1/automations/${a.id}`, { body: { name: 'mine' } }),
      await bob.get(`/api/v1/automations/${a.id}/versions`),
      await bob.get(`/api/v1/automations/${a.id}/versions/1`),
      await bob.post(`/api/v1/automations/${a.id}/runs`, { body: { input: { name: 'x' } } }),
      await bob.get(`/api/v1/automations/${a.id}/runs`),
      await bob.post(`/api/v1/automations/${a.id}/disable`),
      await bob.get(`/api/v1/automations/${a.id}/schedules`),
      await bob.post(`/api/v1/automations/${a.id}/schedules`, { body: { cron: '* * * * *' } }),
      await bob.get(`/api/v1/automations/${a.id}/webhooks`),
      await bob.post(`/api/v1/automations/${a.id}/webhooks`, { body: {} }),
      await bob.delete(`/api/v1/automations/${a.id}`),
      await alice.get(`/api/v1/automations/${missingId}`),
    ]) {
      expectError(response, 404, 'not_found');
    }
    expect((await bob.get(`/api/v1/executions?automationId=${a.id}`)).json.items).toEqual([]);
  });

  it('disables and enables, and deletes', async () => {
    const a = await create();
    expect((await alice.post(`/api/v1/automations/${a.id}/disable`)).json.enabled).toBe(false);
    expect((await alice.post(`/api/v1/automations/${a.id}/enable`)).json.enabled).toBe(true);
    expect((await alice.delete(`/api/v1/automations/${a.id}`)).status).toBe(204);
    expectError(await alice.get(`/api/v1/automations/${a.id}`), 404, 'not_found');
  });
});

describe('runs', () => {
  it('checks the input against the schema before queuing, fills defaults, records version and trigger', async () => {
    const a = await create();
    const before = (await alice.get('/api/v1/executions')).json.items.length;
    const bad = await alice.post(`/api/v1/automations/${a.id}/runs`, {
      body: { input: { count: 0, extra: true } },
    });
    expectError(bad, 400, 'validation_failed');
    expect(bad.json.error.details.map((d: { path: string }) => d.path).sort()).toEqual(
      ['body.input.count', 'body.input.extra', 'body.input.name'].sort(),
    );
    expect((await alice.get('/api/v1/executions')).json.items.length).toBe(before);

    const run = await alice.post(`/api/v1/automations/${a.id}/runs`, { body: { input: { name: 'Ann' } } });
    expect(run.status, run.text).toBe(202);
    expect(run.json).toMatchObject({
      automationId: a.id,
      automationVersion: 1,
      trigger: 'api',
      input: { language: 'javascript', code: 'return input', input: { name: 'Ann', count: 3 } },
    });
    await alice.patch(`/api/v1/automations/${a.id}`, { body: { code: 'return 2' } });
    const old = await alice.post(`/api/v1/automations/${a.id}/runs`, {
      body: { input: { name: 'B' }, version: 1 },
    });
    expect(old.json).toMatchObject({ automationVersion: 1, input: { code: 'return input' } });
    expectError(
      await alice.post(`/api/v1/automations/${a.id}/runs`, { body: { input: { name: 'B' }, version: 9 } }),
      404,
      'not_found',
    );
    const runs = await alice.get(`/api/v1/automations/${a.id}/runs`);
    expect(runs.json.items.map((e: { id: string }) => e.id)).toEqual([old.json.id, run.json.id]);
    const filtered = await alice.get(`/api/v1/executions?automationId=${a.id}&trigger=api`);
    expect(filtered.json.items).toHaveLength(2);
    expect((await alice.get(`/api/v1/executions?automationId=${a.id}&trigger=webhook`)).json.items).toEqual(
      [],
    );
    expectError(await alice.get('/api/v1/executions?trigger=carrier-pigeon'), 400, 'validation_failed');
  });
});

describe('schedules', () => {
  it('validates cron and zone, answers the next 5 ticks, and fires a per-second schedule', async () => {
    const a = await create({ inputSchema: null, code: 'tick' });
    expectError(
      await alice.post(`/api/v1/automations/${a.id}/schedules`, { body: { cron: '61 * * * *' } }),
      400,
      'validation_failed',
    );
    const badZone = await alice.post(`/api/v1/automations/${a.id}/schedules`, {
      body: { cron: '* * * * *', timeZone: 'Mars/Olympus' },
    });
    expectError(badZone, 400, 'validation_failed');
    expect(badZone.json.error.details[0].path).toBe('body.timeZone');
    expectError(
      await alice.post(`/api/v1/automations/${a.id}/schedules`, { body: { cron: '* * * *' } }),
      400,
      'validation_failed',
    );
    const daily = await alice.post(`/api/v1/automations/${a.id}/schedules`, {
      body: { cron: '0 9 * * *', timeZone: 'Asia/Taipei', enabled: false },
    });
    expect(daily.status, daily.text).toBe(201);
    expect(daily.json).toMatchObject({
      nextFireAt: null,
      nextFireTimes: [],
      overlap: 'skip',
      catchUp: 'skip',
    });
    const enabled = await alice.put(`/api/v1/automations/${a.id}/schedules/${daily.json.id}`, {
      body: { cron: '0 9 * * *', timeZone: 'Asia/Taipei' },
    });
    expect(enabled.json.nextFireTimes).toHaveLength(5);
    // 09:00 in Taipei (UTC+8, no DST) is 01:00 UTC every day.
    for (const t of enabled.json.nextFireTimes) expect(t).toMatch(/T01:00:00\.000Z$/);

    const everySecond = await alice.post(`/api/v1/automations/${a.id}/schedules`, {
      body: { cron: '* * * * * *', input: { from: 'schedule' } },
    });
    expect(everySecond.status).toBe(201);
    const scheduledRuns = async () =>
      (await alice.get(`/api/v1/automations/${a.id}/runs?trigger=schedule`)).json.items;
    await expect
      .poll(async () => (await scheduledRuns()).length, { timeout: 10_000, interval: 200 })
      .toBeGreaterThanOrEqual(2);
    await alice.delete(`/api/v1/automations/${a.id}/schedules/${everySecond.json.id}`);
    const runs = await scheduledRuns();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const ticks = runs.map((r: { scheduledFor: string }) => r.scheduledFor);
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(runs[0]).toMatchObject({ triggerId: everySecond.json.id, input: { input: { from: 'schedule' } } });
  });
});

describe('webhooks', () => {
  async function hook(schemaOverride: unknown = schema) {
    const a = await create({ inputSchema: schemaOverride });
    const created = await alice.post(`/api/v1/automations/${a.id}/webhooks`, { body: { name: 'CI' } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    return { automation: a, trigger: created.json.trigger, secret: created.json.secret as string };
  }
  const deliver = (path: string, body: string, headers: Record<string, string>) =>
    request(server.url, 'POST', path, { body, headers });
  const runCount = async (automationId: string) =>
    (await alice.get(`/api/v1/automations/${automationId}/runs`)).json.items.length;

  it('runs on a valid signature with the JSON body as input, and can wait for the result', async () => {
    const { automation, trigger, secret } = await hook();
    expect(trigger.path).toBe(`/hooks/${trigger.id}`);
    expect(
      JSON.stringify((await alice.get(`/api/v1/automations/${automation.id}/webhooks`)).json),
    ).not.toContain(secret);
    const body = JSON.stringify({ name: 'hooked' });
    const accepted = await deliver(trigger.path, body, {
      'content-type': 'application/json',
      'x-ipa-signature': signatureHeaderValue(secret, body),
    });
    expect(accepted.status, accepted.text).toBe(202);
    const execution = await alice.get(`/api/v1/executions/${accepted.json.executionId}`);
    expect(execution.json).toMatchObject({
      trigger: 'webhook',
      triggerId: trigger.id,
      input: { input: { name: 'hooked', count: 3 } },
    });

    const waitBody = JSON.stringify({ name: 'waited' });
    const waited = await deliver(`${trigger.path}?wait=10`, waitBody, {
      'content-type': 'application/json',
      'x-ipa-signature': signatureHeaderValue(secret, waitBody),
    });
    expect(waited.status, waited.text).toBe(200);
    expect(waited.json).toMatchObject({
      status: 'succeeded',
      result: { echo: { name: 'waited', count: 3 } },
    });
  });

  it('hands a text body over as a string and answers a failed run with its error', async () => {
    const { automation, trigger, secret } = await hook(null);
    await alice.patch(`/api/v1/automations/${automation.id}`, { body: { code: 'fail' } });
    const text = 'plain words';
    const failed = await deliver(`${trigger.path}?wait=10`, text, {
      'content-type': 'text/plain',
      'x-ipa-signature': signatureHeaderValue(secret, text),
    });
    expectError(failed, 422, 'run_failed');
    expect(failed.json.error.details).toMatchObject({ status: 'failed', error: { code: 'script_error' } });
    const run = await alice.get(`/api/v1/executions/${failed.json.error.details.executionId}`);
    expect(run.json.input.input).toBe('plain words');
  });

  it('refuses bad, old, replayed, oversized and undeliverable requests, and queues nothing', async () => {
    const { automation, trigger, secret } = await hook();
    const body = JSON.stringify({ name: 'x' });
    const json = { 'content-type': 'application/json' };
    const now = Math.floor(Date.now() / 1000);
    expectError(await deliver(trigger.path, body, json), 401, 'invalid_signature');
    expectError(
      await deliver(trigger.path, body, {
        ...json,
        'x-ipa-signature': signatureHeaderValue('whsec_wrong-secret-000000', body),
      }),
      401,
      'invalid_signature',
    );
    expectError(
      await deliver(trigger.path, body, {
        ...json,
        'x-ipa-signature': signatureHeaderValue(secret, `${body} `),
      }),
      401,
      'invalid_signature',
    );
    const old = await deliver(trigger.path, body, {
      ...json,
      'x-ipa-signature': signatureHeaderValue(secret, body, now - 301),
    });
    expectError(old, 401, 'invalid_signature');
    expect(old.json.error.details.reason).toBe('expired');
    expectError(
      await deliver(trigger.path, body, { ...json, 'x-ipa-signature': 't=abc,v1=zz' }),
      401,
      'invalid_signature',
    );
    const invalidInput = JSON.stringify({ count: 1 });
    expectError(
      await deliver(trigger.path, invalidInput, {
        ...json,
        'x-ipa-signature': signatureHeaderValue(secret, invalidInput),
      }),
      400,
      'validation_failed',
    );
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024) });
    expectError(
      await deliver(trigger.path, big, { ...json, 'x-ipa-signature': signatureHeaderValue(secret, big) }),
      413,
      'payload_too_large',
    );
    expectError(await deliver('/hooks/not-a-uuid', body, json), 404, 'not_found');
    expectError(await deliver(`/hooks/${missingId}`, body, json), 404, 'not_found');
    expect(await runCount(automation.id)).toBe(0);

    const signed = signatureHeaderValue(secret, body);
    expect((await deliver(trigger.path, body, { ...json, 'x-ipa-signature': signed })).status).toBe(202);
    expectError(
      await deliver(trigger.path, body, { ...json, 'x-ipa-signature': signed }),
      409,
      'replayed_signature',
    );
    expect(await runCount(automation.id)).toBe(1);

    await alice.patch(`/api/v1/automations/${automation.id}/webhooks/${trigger.id}`, {
      body: { enabled: false },
    });
    expectError(
      await deliver(trigger.path, body, {
        ...json,
        'x-ipa-signature': signatureHeaderValue(secret, body, now - 1),
      }),
      404,
      'not_found',
    );
    await alice.patch(`/api/v1/automations/${automation.id}/webhooks/${trigger.id}`, {
      body: { enabled: true },
    });
    await alice.post(`/api/v1/automations/${automation.id}/disable`);
    expectError(
      await deliver(trigger.path, body, {
        ...json,
        'x-ipa-signature': signatureHeaderValue(secret, body, now - 2),
      }),
      404,
      'not_found',
    );
    await alice.post(`/api/v1/automations/${automation.id}/enable`);

    const rotated = await alice.post(`/api/v1/automations/${automation.id}/webhooks/${trigger.id}/rotate`);
    expect(rotated.json.secret).not.toBe(secret);
    expectError(
      await deliver(trigger.path, body, {
        ...json,
        'x-ipa-signature': signatureHeaderValue(secret, body, now - 3),
      }),
      401,
      'invalid_signature',
    );
    expect(
      (
        await deliver(trigger.path, body, {
          ...json,
          'x-ipa-signature': signatureHeaderValue(rotated.json.secret, body, now - 3),
        })
      ).status,
    ).toBe(202);
    expect(await runCount(automation.id)).toBe(2);
  });

  it('rate-limits deliveries per trigger', async () => {
    const { trigger } = await hook();
    let limited = 0;
    for (let i = 0; i < 32; i++) {
      const response = await deliver(trigger.path, '{}', { 'content-type': 'application/json' });
      if (response.status === 429) limited++;
    }
    expect(limited).toBeGreaterThan(0);
  });
});
