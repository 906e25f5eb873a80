/** The egress API: write-only secrets, allowlists per user (admin) and per automation (owner), the log. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { SecretBox } from '../../src/egress/secret-box.js';
import {
  createTestAdmin,
  createTestPlatform,
  createTestUser,
  startTestApi,
  type TestPlatform,
} from '../support/platform.js';
import { clientFor } from './client.js';

let platform: TestPlatform;
let server: ApiServer;
let alice: ReturnType<typeof clientFor>;
let bob: ReturnType<typeof clientFor>;
let admin: ReturnType<typeof clientFor>;
let aliceId: string;
const value = `value-${randomUUID()}`;

beforeAll(async () => {
  platform = await createTestPlatform({
    env: {
      IPA_SECRETS_KEY: `k1:${SecretBox.generateKey()}`,
      EGRESS_ALLOW: 'api.example.com,*.example.org:8443',
    },
  });
  server = await startTestApi(platform.services, { version: '1.0.0' });
  const a = await createTestUser(platform.services, 'alice');
  const b = await createTestUser(platform.services, 'bob');
  aliceId = a.user.id;
  alice = clientFor(server.url, a.token);
  bob = clientFor(server.url, b.token);
  admin = clientFor(server.url, (await createTestAdmin(platform.services)).token);
});

afterAll(async () => {
  await server?.drain();
  await platform?.cleanup();
});

describe('secrets', () => {
  const body = {
    value,
    hosts: ['api.example.com'],
    delivery: { header: 'Authorization', template: 'Bearer {value}' },
  };

  it('creates, replaces, lists and deletes without ever returning the value', async () => {
    const created = await alice.put('/api/v1/secrets/TOKEN', { body: body });
    expect(created.status).toBe(201);
    const replaced = await alice.put('/api/v1/secrets/TOKEN', {
      body: { ...body, delivery: { query: 'key' } },
    });
    expect(replaced.status).toBe(200);
    const listed = await alice.get('/api/v1/secrets');
    expect(listed.json).toMatchObject({
      enabled: true,
      secrets: [{ name: 'TOKEN', hosts: ['api.example.com'], delivery: { query: 'key' } }],
    });
    for (const answer of [created, replaced, listed])
      expect(JSON.stringify(answer.json)).not.toContain(value);
    const audit = await platform.services.store.audit.list({ limit: 50 });
    expect(JSON.stringify(audit)).not.toContain(value);
    // Bob sees none of it and cannot delete it.
    expect((await bob.get('/api/v1/secrets')).json).toMatchObject({ secrets: [] });
    expect((await bob.delete('/api/v1/secrets/TOKEN')).status).toBe(404);
    expect((await alice.delete('/api/v1/secrets/TOKEN')).status).toBe(204);
    expect((await alice.delete('/api/v1/secrets/TOKEN')).status).toBe(404);
  });

  it('refuses bad input with a 400', async () => {
    const cases = [
      ['/api/v1/secrets/TOKEN', { ...body, hosts: ['10.0.0.1'] }],
      [
        '/api/v1/secrets/TOKEN',
        { ...body, delivery: { header: 'Authorization', template: 'no placeholder' } },
      ],
      ['/api/v1/secrets/TOKEN', { ...body, delivery: { header: 'Host', template: '{value}' } }],
      ['/api/v1/secrets/TOKEN', { ...body, value: 'a\r\nb' }],
      ['/api/v1/secrets/bad%20name', body],
    ] as const;
    for (const [path, payload] of cases) {
      const answer = await alice.put(path, { body: payload });
      expect(answer.status, JSON.stringify(answer.json)).toBe(400);
      expect(JSON.stringify(answer.json)).not.toMatch(/\/work|at .*\.ts/);
    }
  });
});

describe('allowlists', () => {
  it('admins set a user level; others cannot', async () => {
    expect(
      (await alice.put(`/api/v1/admin/users/${aliceId}/egress`, { body: { rules: ['api.example.com'] } }))
        .status,
    ).toBe(403);
    const set = await admin.put(`/api/v1/admin/users/${aliceId}/egress`, {
      body: { rules: ['API.example.com:443'] },
    });
    expect(set.json).toEqual({
      rules: ['api.example.com:443'],
      installation: ['api.example.com', '*.example.org:8443'],
    });
    expect((await admin.get(`/api/v1/admin/users/${aliceId}/egress`)).json).toMatchObject({
      rules: ['api.example.com:443'],
    });
    expect(
      (await admin.put(`/api/v1/admin/users/${aliceId}/egress`, { body: { rules: ['not a host'] } })).status,
    ).toBe(400);
    expect(
      (await admin.put(`/api/v1/admin/users/${randomUUID()}/egress`, { body: { rules: null } })).status,
    ).toBe(404);
    expect(
      (await admin.put(`/api/v1/admin/users/${aliceId}/egress`, { body: { rules: null } })).json,
    ).toMatchObject({ rules: null });
  });

  it("owners set an automation level; another user's automation is a 404", async () => {
    const created = await alice.post('/api/v1/automations', {
      body: { name: 'narrowed', language: 'javascript', code: 'return 1' },
    });
    expect(created.status).toBe(201);
    const automation = created.json.id as string;
    expect(
      (
        await alice.put(`/api/v1/automations/${randomUUID()}/egress`, {
          body: { rules: ['api.example.com'] },
        })
      ).status,
    ).toBe(404);
    expect(
      (await alice.put(`/api/v1/automations/${automation}/egress`, { body: { rules: ['api.example.com'] } }))
        .status,
    ).toBe(200);
    expect((await bob.get(`/api/v1/automations/${automation}/egress`)).status).toBe(404);
    expect(
      (await bob.put(`/api/v1/automations/${automation}/egress`, { body: { rules: ['evil.example.com'] } }))
        .status,
    ).toBe(404);
    expect((await alice.get(`/api/v1/automations/${automation}/egress`)).json).toMatchObject({
      rules: ['api.example.com'],
    });
  });
});

describe('egress log and /me', () => {
  it("shows an execution's requests to its owner only", async () => {
    const store = platform.services.store;
    const execution = await store.executions.create({
      userId: aliceId,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });
    await store.egress.recordRequest({
      executionId: execution.id,
      userId: aliceId,
      host: 'evil.example.com',
      port: 443,
      method: 'CONNECT',
      status: 403,
      bytesSent: 0,
      bytesReceived: 0,
      durationMs: 1,
      outcome: 'refused',
      reason: 'evil.example.com:443 is not allowed by the installation: add it to EGRESS_ALLOW',
    });
    const log = await alice.get(`/api/v1/executions/${execution.id}/egress`);
    expect(log.json).toMatchObject({ items: [{ host: 'evil.example.com', outcome: 'refused' }] });
    expect((await bob.get(`/api/v1/executions/${execution.id}/egress`)).status).toBe(404);
  });

  it('says whether egress is enforced at this isolation level', async () => {
    const me = await alice.get('/api/v1/me');
    expect(me.json).toMatchObject({
      platform: {
        egress: {
          enforced: false,
          allow: ['api.example.com', '*.example.org:8443'],
          note: expect.stringMatching(/cannot be enforced/),
        },
      },
    });
  });
});
