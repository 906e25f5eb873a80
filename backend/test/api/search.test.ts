import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
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
let adminId: string;

function expectError(response: { status: number; json: unknown }, status: number, code: string) {
  expect(response.status, JSON.stringify(response.json)).toBe(status);
  expect(response.json).toMatchObject({ error: { code, message: expect.any(String) } });
}

const titles = (response: { json: { items: { title: string }[] } }) =>
  response.json.items.map((session) => session.title);

beforeAll(async () => {
  platform = await createTestPlatform();
  server = await startTestApi(platform.services);
  const a = await createTestUser(platform.services, 'alice');
  const b = await createTestUser(platform.services, 'bob');
  const root = await createTestAdmin(platform.services);
  aliceId = a.user.id;
  adminId = root.user.id;
  alice = clientFor(server.url, a.token);
  bob = clientFor(server.url, b.token);
  admin = clientFor(server.url, root.token);
});

afterAll(async () => {
  await server?.drain();
  await platform?.cleanup();
});

describe('GET /sessions?q=', () => {
  it("finds the owner's sessions by title or message text, case-insensitively, paged", async () => {
    const { store } = platform.services;
    const create = async (title: string) => (await alice.post('/api/v1/sessions', { body: { title } })).json;
    const may = await create('May sales report');
    const june = await create('June SALES');
    const other = await create('Holiday plans');
    await create('100% done_now');
    await store.messages.append({
      sessionId: other.id,
      role: 'user',
      parts: [{ type: 'text', text: 'Compare the sales of both shops' }],
    });
    // A tool's output is not conversation text: it does not make a session match.
    await store.messages.append({
      sessionId: (await create('Tools only')).id,
      role: 'tool',
      parts: [{ type: 'tool-result', toolCallId: 't', toolName: 'read_file', output: 'sales' }],
    });
    await bob.post('/api/v1/sessions', { body: { title: 'Bob sales' } });

    const found = await alice.get('/api/v1/sessions?q=Sales');
    expect(found.status).toBe(200);
    expect(titles(found)).toEqual([other.title, june.title, may.title]);

    const first = await alice.get('/api/v1/sessions?q=sales&limit=2');
    expect(titles(first)).toEqual([other.title, june.title]);
    const second = await alice.get(`/api/v1/sessions?q=sales&limit=2&cursor=${first.json.nextCursor}`);
    expect(titles(second)).toEqual([may.title]);
    expect(second.json.nextCursor).toBeNull();

    // LIKE's wildcards are taken literally.
    expect(titles(await alice.get(`/api/v1/sessions?q=${encodeURIComponent('0%')}`))).toEqual([
      '100% done_now',
    ]);
    expect(titles(await alice.get('/api/v1/sessions?q=e_n'))).toEqual(['100% done_now']);
    expect(titles(await alice.get('/api/v1/sessions?q=%25'))).toEqual(['100% done_now']);
    expect(titles(await alice.get('/api/v1/sessions?q=nothing-like-this'))).toEqual([]);
    // Nobody finds another user's sessions.
    expect(titles(await bob.get('/api/v1/sessions?q=sales'))).toEqual(['Bob sales']);
  });

  it('refuses an empty or overlong search (400)', async () => {
    expectError(await alice.get('/api/v1/sessions?q='), 400, 'validation_failed');
    expectError(await alice.get('/api/v1/sessions?q=%20%20'), 400, 'validation_failed');
    expectError(await alice.get(`/api/v1/sessions?q=${'x'.repeat(201)}`), 400, 'validation_failed');
  });
});

describe('GET /admin/audit filters', () => {
  it('narrows by actor, action (exact or prefix) and time range', async () => {
    const { store } = platform.services;
    const before = new Date(Date.now() - 1000).toISOString();
    await store.audit.record({ actorId: aliceId, action: 'secret.create', target: 'a' });
    await store.audit.record({ actorId: adminId, action: 'user.create', target: 'u' });
    await store.audit.record({ actorId: adminId, action: 'token.issue', target: 't' });
    const after = new Date(Date.now() + 1000).toISOString();

    const byActor = await admin.get(`/api/v1/admin/audit?actorId=${aliceId}`);
    expect(byActor.status).toBe(200);
    expect(byActor.json.items.map((e: { action: string }) => e.action)).toEqual(['secret.create']);

    const exact = await admin.get('/api/v1/admin/audit?action=user.create');
    expect(exact.json.items.every((e: { action: string }) => e.action === 'user.create')).toBe(true);
    expect(exact.json.items.length).toBeGreaterThan(0);
    const prefix = await admin.get('/api/v1/admin/audit?action=token.');
    expect(prefix.json.items.map((e: { action: string }) => e.action)).toContain('token.issue');
    expect(prefix.json.items.every((e: { action: string }) => e.action.startsWith('token.'))).toBe(true);

    const inRange = await admin.get(
      `/api/v1/admin/audit?from=${encodeURIComponent(before)}&to=${encodeURIComponent(after)}&actorId=${adminId}`,
    );
    expect(inRange.json.items.map((e: { action: string }) => e.action)).toEqual([
      'token.issue',
      'user.create',
    ]);
    const future = await admin.get(`/api/v1/admin/audit?from=${encodeURIComponent(after)}`);
    expect(future.json.items).toEqual([]);
    // A time with an offset is the same instant.
    const offset = await admin.get(
      `/api/v1/admin/audit?to=${encodeURIComponent('2000-01-01T08:00:00+08:00')}`,
    );
    expect(offset.json.items).toEqual([]);
  });

  it('refuses malformed filters with 400, never a 500', async () => {
    for (const query of [
      'actorId=not-a-uuid',
      'action=USER.CREATE',
      'action=user..create',
      'action=',
      'from=yesterday',
      'from=2026-13-01T00:00:00Z',
      'to=2026-05-01',
      'from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z',
      'from=2026-05-01T00:00:00Z&to=2026-05-01T00:00:00Z',
      'actor=x',
    ]) {
      expectError(await admin.get(`/api/v1/admin/audit?${query}`), 400, 'validation_failed');
    }
    expectError(await alice.get('/api/v1/admin/audit?action=user.'), 403, 'forbidden');
  });
});
