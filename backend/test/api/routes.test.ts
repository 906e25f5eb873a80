import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import {
  createTestAdmin,
  createTestPlatform,
  createTestUser,
  startTestApi,
  type TestPlatform,
} from '../support/platform.js';
import { clientFor, request } from './client.js';

let platform: TestPlatform;
let server: ApiServer;
let alice: ReturnType<typeof clientFor>;
let bob: ReturnType<typeof clientFor>;
let admin: ReturnType<typeof clientFor>;
let anonymous: ReturnType<typeof clientFor>;
let aliceId: string;
let aliceToken: string;

const missingId = '00000000-0000-4000-8000-000000000000';

function expectError(response: { status: number; json: unknown }, status: number, code: string) {
  expect(response.status, JSON.stringify(response.json)).toBe(status);
  expect(response.json).toMatchObject({ error: { code, message: expect.any(String) } });
}

beforeAll(async () => {
  platform = await createTestPlatform({ env: { USER_CONCURRENCY: '3' } });
  server = await startTestApi(platform.services, { version: '1.2.3' });
  const a = await createTestUser(platform.services, 'alice');
  const b = await createTestUser(platform.services, 'bob');
  const root = await createTestAdmin(platform.services);
  aliceId = a.user.id;
  aliceToken = a.token;
  alice = clientFor(server.url, a.token);
  bob = clientFor(server.url, b.token);
  admin = clientFor(server.url, root.token);
  anonymous = clientFor(server.url);
});

afterAll(async () => {
  await server?.drain();
  await platform?.cleanup();
});

describe('authentication', () => {
  it('refuses requests without a token, with an unknown one and with a malformed header', async () => {
    expectError(await anonymous.get('/api/v1/me'), 401, 'unauthorized');
    expectError(
      await clientFor(server.url, 'ipa_unknown-token-value-000000000000').get('/api/v1/me'),
      401,
      'unauthorized',
    );
    expectError(
      await anonymous.get('/api/v1/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
      401,
      'unauthorized',
    );
    expectError(
      await anonymous.get('/api/v1/sessions', { headers: { cookie: 'ipa_session=nope' } }),
      401,
      'unauthorized',
    );
  });

  it('refuses every signed-in route without a token (401, before any validation)', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/v1/me'],
      ['POST', '/api/v1/me/sandbox/reset', {}],
      ['GET', '/api/v1/sessions'],
      ['POST', '/api/v1/sessions', { title: 'x' }],
      ['GET', `/api/v1/sessions/${missingId}`],
      ['PATCH', `/api/v1/sessions/${missingId}`, { title: 'x' }],
      ['DELETE', `/api/v1/sessions/${missingId}`],
      ['GET', `/api/v1/sessions/${missingId}/messages`],
      ['POST', `/api/v1/sessions/${missingId}/messages`, { text: 'x' }],
      ['GET', '/api/v1/executions'],
      ['POST', '/api/v1/executions', { language: 'javascript', code: '1' }],
      ['GET', `/api/v1/executions/${missingId}`],
      ['POST', `/api/v1/executions/${missingId}/cancel`],
      ['GET', `/api/v1/executions/${missingId}/events`],
      ['GET', '/api/v1/files'],
      ['PUT', '/api/v1/files/uploads/a.txt', 'x'],
      ['GET', '/api/v1/files/uploads/a.txt'],
      ['DELETE', '/api/v1/files/uploads/a.txt'],
      ['GET', '/api/v1/sessions/not-a-uuid'],
    ];
    for (const [method, path, body] of routes) {
      expectError(await request(server.url, method, path, { body }), 401, 'unauthorized');
      expectError(
        await request(server.url, method, path, { body, token: 'ipa_wrong-token-000000000000000000000' }),
        401,
        'unauthorized',
      );
    }
    const form = new FormData();
    form.append('file', new Blob(['x']), 'x.txt');
    expectError(await request(server.url, 'POST', '/api/v1/files', { body: form }), 401, 'unauthorized');
  });

  it('refuses a revoked token at once', async () => {
    const { user, token } = await createTestUser(platform.services, 'carol');
    const carol = clientFor(server.url, token);
    expect((await carol.get('/api/v1/me')).status).toBe(200);
    const tokens = await admin.get(`/api/v1/admin/users/${user.id}/tokens`);
    const tokenId = tokens.json.items[0].id;
    expect((await admin.delete(`/api/v1/admin/users/${user.id}/tokens/${tokenId}`)).status).toBe(204);
    expectError(await carol.get('/api/v1/me'), 401, 'unauthorized');
  });

  it('lists browser sign-ins apart from API tokens, with device and last use', async () => {
    const before = (await admin.get(`/api/v1/admin/users/${aliceId}/tokens`)).json.items.length;
    const login = await anonymous.post('/api/v1/auth/login', {
      body: { token: aliceToken },
      headers: {
        'user-agent':
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36',
      },
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect((await anonymous.get('/api/v1/me', { headers: { cookie } })).status).toBe(200);
    // The sign-in is not one of the user's API tokens...
    const tokens = (await admin.get(`/api/v1/admin/users/${aliceId}/tokens`)).json.items;
    expect(tokens).toHaveLength(before);
    expect(tokens.every((t: { kind: string }) => t.kind === 'api')).toBe(true);
    // ...but a sign-in, named by its device, with its last use.
    const signins = (await admin.get(`/api/v1/admin/users/${aliceId}/signins`)).json.items;
    expect(signins[0]).toMatchObject({
      kind: 'signin',
      device: 'Chrome on Linux',
      lastUsedAt: expect.any(String),
    });
    await anonymous.post('/api/v1/auth/logout', { headers: { cookie } });
    const after = (await admin.get(`/api/v1/admin/users/${aliceId}/signins`)).json.items;
    expect(after.map((t: { id: string }) => t.id)).not.toContain(signins[0].id);
    expectError(await alice.get(`/api/v1/admin/users/${aliceId}/signins`), 403, 'forbidden');
  });

  it('logs in with a token into an HttpOnly SameSite=Strict cookie, and logout revokes that cookie', async () => {
    const login = await anonymous.post('/api/v1/auth/login', { body: { token: aliceToken } });
    expect(login.status).toBe(200);
    expect(login.json.user.id).toBe(aliceId);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^ipa_session=ipa_[\w-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\/api/);
    const cookie = setCookie.split(';')[0] ?? '';
    // The cookie holds a token of its own, not the one typed in.
    expect(cookie).not.toContain(aliceToken);

    const me = await anonymous.get('/api/v1/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.json.user.name).toBe('alice');

    const logout = await anonymous.post('/api/v1/auth/logout', { headers: { cookie } });
    expect(logout.status).toBe(204);
    expect(logout.headers.get('set-cookie')).toMatch(/ipa_session=;/);
    expectError(await anonymous.get('/api/v1/me', { headers: { cookie } }), 401, 'unauthorized');
    // The token used to log in still works.
    expect((await alice.get('/api/v1/me')).status).toBe(200);

    const audit = await admin.get('/api/v1/admin/audit');
    const actions = audit.json.items.map((e: { action: string }) => e.action);
    expect(actions).toContain('auth.login');
    expect(actions).toContain('auth.logout');
  });

  it('ends a sign-in session on the server when it expires, and a new sign-in clears ended ones', async () => {
    const signIn = async () => {
      const login = await anonymous.post('/api/v1/auth/login', { body: { token: aliceToken } });
      expect(login.status).toBe(200);
      return (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    };
    // Every stored sign-in, ended or not (the sign-ins route shows only those in force).
    const browserTokens = async () =>
      (await platform.services.store.tokens.list(aliceId, { kind: 'signin' })) as {
        id: string;
        createdAt: string;
        expiresAt: string;
      }[];

    const cookie = await signIn();
    const [session] = (await browserTokens()).slice(-1);
    // As long as the cookie: 30 days.
    const days = (Date.parse(session!.expiresAt) - Date.parse(session!.createdAt)) / 86_400_000;
    expect(days).toBeCloseTo(30, 3);
    // The cookie value outliving its expiry (a copied cookie, a browser that ignores Max-Age).
    await platform.services.store.db.query(
      "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
      [session!.id],
    );
    expectError(await anonymous.get('/api/v1/me', { headers: { cookie } }), 401, 'unauthorized');

    const second = await signIn();
    expect((await anonymous.post('/api/v1/auth/logout', { headers: { cookie: second } })).status).toBe(204);
    await signIn();
    // The expired and the signed-out sessions are gone; the live one stays.
    const left = await browserTokens();
    expect(left.map((t) => t.id)).not.toContain(session!.id);
    expect(left).toHaveLength(1);
  });

  it('refuses a login with an unknown token and audits it', async () => {
    expectError(
      await anonymous.post('/api/v1/auth/login', {
        body: { token: 'ipa_not-a-real-token-00000000000000000' },
      }),
      401,
      'unauthorized',
    );
    const audit = await admin.get('/api/v1/admin/audit');
    expect(audit.json.items.map((e: { action: string }) => e.action)).toContain('auth.login_failed');
  });
});

describe('GET /me', () => {
  it('tells the user, their quota and the platform (process level without workers)', async () => {
    const me = await alice.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      user: { id: aliceId, name: 'alice', isAdmin: false, createdAt: expect.any(String) },
      quota: { usedBytes: expect.any(Number), limitBytes: platform.config.files.userQuotaBytes },
      platform: {
        isolation: 'process',
        languages: ['javascript', 'typescript'],
        sandboxUids: 'shared',
        version: '1.2.3',
        egress: { enforced: false, allow: expect.any(Array), note: expect.any(String) },
      },
    });
  });

  it('reports bwrap and every language when all live workers have it', async () => {
    const heartbeat = {
      workerId: 'w-test-1',
      hostname: 'h',
      pid: 1,
      startedAt: new Date().toISOString(),
      at: new Date().toISOString(),
      isolation: 'bwrap' as const,
      languages: ['javascript' as const, 'typescript' as const, 'shell' as const, 'python' as const],
      concurrency: 2,
      running: 0,
      draining: false,
      pool: {},
    };
    await platform.services.workers.publish(heartbeat, 60_000);
    try {
      const me = await alice.get('/api/v1/me');
      expect(me.json.platform.isolation).toBe('bwrap');
      expect(me.json.platform.languages).toEqual(['javascript', 'typescript', 'shell', 'python']);
      const stats = await admin.get('/api/v1/admin/stats');
      expect(stats.json.workers).toEqual([heartbeat]);
    } finally {
      await platform.services.workers.remove(heartbeat.workerId);
    }
  });
});

describe('POST /me/sandbox/reset', () => {
  it("moves the user's reset generation on, keeps their stored files and touches no one else", async () => {
    const { user, token } = await createTestUser(platform.services, 'resetter');
    const resetter = clientFor(server.url, token);
    expect((await resetter.put('/api/v1/files/uploads/kept.txt', { body: 'kept' })).status).toBe(201);
    const first = await resetter.post('/api/v1/me/sandbox/reset', { body: {} });
    expect(first.status, JSON.stringify(first.json)).toBe(200);
    expect(first.json).toEqual({ generation: 1 });
    // No body at all is the same request.
    expect((await resetter.post('/api/v1/me/sandbox/reset')).json).toEqual({ generation: 2 });
    expect(await platform.services.store.users.sandboxGeneration(user.id)).toBe(2);
    expect(await platform.services.store.users.sandboxGeneration(aliceId)).toBe(0);
    expect((await resetter.get('/api/v1/files/uploads/kept.txt')).status).toBe(200);
    expectError(
      await resetter.post('/api/v1/me/sandbox/reset', { body: { all: true } }),
      400,
      'validation_failed',
    );
  });
});

describe('sessions and messages', () => {
  it('names an untitled session after its first message, and keeps a title given by the user', async () => {
    const own = await createTestUser(platform.services, 'titler');
    const titler = clientFor(server.url, own.token);
    const untitled = await titler.post('/api/v1/sessions');
    await titler.post(`/api/v1/sessions/${untitled.json.id}/messages`, {
      body: { text: '  Summarise   the May sales\nfrom uploads/sales.csv' },
    });
    expect((await titler.get(`/api/v1/sessions/${untitled.json.id}`)).json.title).toBe(
      'Summarise the May sales',
    );
    await titler.post(`/api/v1/sessions/${untitled.json.id}/messages`, { body: { text: 'And June?' } });
    expect((await titler.get(`/api/v1/sessions/${untitled.json.id}`)).json.title).toBe(
      'Summarise the May sales',
    );
    const named = await titler.post('/api/v1/sessions', { body: { title: 'Mine' } });
    await titler.post(`/api/v1/sessions/${named.json.id}/messages`, { body: { text: 'x'.repeat(100) } });
    expect((await titler.get(`/api/v1/sessions/${named.json.id}`)).json.title).toBe('Mine');
  });

  it('creates, lists with pagination, gets, renames and deletes', async () => {
    const created = await alice.post('/api/v1/sessions', { body: { title: 'First' } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ title: 'First', userId: aliceId });
    const untitled = await alice.post('/api/v1/sessions');
    expect(untitled.status).toBe(201);
    expect(untitled.json.title).toBe('New session');

    const page1 = await alice.get('/api/v1/sessions?limit=1');
    expect(page1.status).toBe(200);
    expect(page1.json.items).toHaveLength(1);
    expect(page1.json.items[0].id).toBe(untitled.json.id);
    expect(page1.json.nextCursor).toEqual(expect.any(String));
    const page2 = await alice.get(`/api/v1/sessions?limit=1&cursor=${page1.json.nextCursor}`);
    expect(page2.json.items[0].id).toBe(created.json.id);

    const got = await alice.get(`/api/v1/sessions/${created.json.id}`);
    expect(got.json).toEqual(created.json);
    const renamed = await alice.patch(`/api/v1/sessions/${created.json.id}`, { body: { title: 'Renamed' } });
    expect(renamed.status).toBe(200);
    expect(renamed.json.title).toBe('Renamed');

    expect((await alice.delete(`/api/v1/sessions/${untitled.json.id}`)).status).toBe(204);
    expectError(await alice.get(`/api/v1/sessions/${untitled.json.id}`), 404, 'not_found');
    expectError(await alice.delete(`/api/v1/sessions/${untitled.json.id}`), 404, 'not_found');
  });

  it("hides another user's session as 404 on every route", async () => {
    const session = (await alice.post('/api/v1/sessions', { body: { title: 'Private' } })).json;
    expectError(await bob.get(`/api/v1/sessions/${session.id}`), 404, 'not_found');
    expectError(
      await bob.patch(`/api/v1/sessions/${session.id}`, { body: { title: 'x' } }),
      404,
      'not_found',
    );
    expectError(await bob.delete(`/api/v1/sessions/${session.id}`), 404, 'not_found');
    expectError(await bob.get(`/api/v1/sessions/${session.id}/messages`), 404, 'not_found');
    expectError(
      await bob.post(`/api/v1/sessions/${session.id}/messages`, { body: { text: 'hi' } }),
      404,
      'not_found',
    );
    expect((await bob.get('/api/v1/sessions')).json.items).toEqual([]);
    expect((await alice.get(`/api/v1/sessions/${session.id}`)).status).toBe(200);
  });

  it('stores a message and starts an agent execution (202), announced and enqueued', async () => {
    const session = (await alice.post('/api/v1/sessions', { body: { title: 'Chat' } })).json;
    const sent = await alice.post(`/api/v1/sessions/${session.id}/messages`, {
      body: { text: 'Hello there' },
    });
    expect(sent.status).toBe(202);
    expect(sent.json.message).toMatchObject({
      sessionId: session.id,
      role: 'user',
      parts: [{ type: 'text', text: 'Hello there' }],
    });
    expect(sent.json.execution).toMatchObject({
      kind: 'agent',
      status: 'queued',
      sessionId: session.id,
      input: { messageId: sent.json.message.id, text: 'Hello there' },
    });
    const messages = await alice.get(`/api/v1/sessions/${session.id}/messages`);
    expect(messages.json.items.map((m: { id: string }) => m.id)).toEqual([sent.json.message.id]);
    const events = await platform.services.events.read(sent.json.execution.id, undefined);
    expect(events.map((e) => e.type)).toEqual(['execution.queued']);
    expect(events[0]?.data).toEqual({ executionId: sent.json.execution.id, kind: 'agent' });
    const listed = await alice.get(`/api/v1/executions?sessionId=${session.id}&kind=agent`);
    expect(listed.json.items.map((e: { id: string }) => e.id)).toEqual([sent.json.execution.id]);
    await alice.post(`/api/v1/executions/${sent.json.execution.id}/cancel`);
  });
});

describe('executions', () => {
  it('accepts a script run (202), lists, filters and gets it', async () => {
    const created = await alice.post('/api/v1/executions', {
      body: { language: 'javascript', code: 'return 1 + 1', input: { n: 2 } },
    });
    expect(created.status).toBe(202);
    expect(created.json).toMatchObject({
      kind: 'script',
      status: 'queued',
      userId: aliceId,
      input: { language: 'javascript', code: 'return 1 + 1', input: { n: 2 } },
    });
    const { id } = created.json;
    expect((await alice.get(`/api/v1/executions/${id}`)).json).toEqual(created.json);
    const queued = await alice.get('/api/v1/executions?status=queued&kind=script');
    expect(queued.json.items.map((e: { id: string }) => e.id)).toContain(id);
    const succeeded = await alice.get('/api/v1/executions?status=succeeded');
    expect(succeeded.json.items).toEqual([]);
    const counts = await platform.services.queue.counts();
    expect(counts.waiting).toBeGreaterThanOrEqual(1);
    expectError(await bob.get(`/api/v1/executions/${id}`), 404, 'not_found');
    expectError(await bob.post(`/api/v1/executions/${id}/cancel`), 404, 'not_found');
    expect((await alice.post(`/api/v1/executions/${id}/cancel`)).status).toBe(202);
  });

  it('cancels a queued execution at once, and refuses to cancel a finished one (409)', async () => {
    const { id } = (await alice.post('/api/v1/executions', { body: { language: 'typescript', code: 'x' } }))
      .json;
    const cancelled = await alice.post(`/api/v1/executions/${id}/cancel`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.json).toMatchObject({ id, status: 'cancelled', cancelRequested: true });
    const events = await platform.services.events.read(id, undefined);
    expect(events.map((e) => e.type)).toEqual(['execution.queued', 'execution.cancelled']);
    expectError(await alice.post(`/api/v1/executions/${id}/cancel`), 409, 'conflict');
  });

  it('flags a running execution for its worker to stop', async () => {
    const { id } = (await alice.post('/api/v1/executions', { body: { language: 'javascript', code: 'x' } }))
      .json;
    await platform.services.store.executions.markRunning(id, 'worker-1', 1);
    const response = await alice.post(`/api/v1/executions/${id}/cancel`);
    expect(response.status).toBe(202);
    expect(response.json).toMatchObject({ status: 'running', cancelRequested: true });
    await platform.services.store.executions.finish(id, { status: 'cancelled' });
  });

  it('limits the executions one user has queued or running (429 too_many_executions)', async () => {
    const dave = clientFor(server.url, (await createTestUser(platform.services, 'dave')).token);
    const limit = platform.config.executions.userConcurrency;
    const results = await Promise.all(
      Array.from({ length: limit + 2 }, () =>
        dave.post('/api/v1/executions', { body: { language: 'javascript', code: '1' } }),
      ),
    );
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(limit);
    expect(refused).toHaveLength(2);
    expectError(refused[0]!, 429, 'too_many_executions');
    // Cancelling one frees a slot.
    await dave.post(`/api/v1/executions/${accepted[0]!.json.id}/cancel`);
    expect(
      (await dave.post('/api/v1/executions', { body: { language: 'javascript', code: '1' } })).status,
    ).toBe(202);
    const active = (await dave.get('/api/v1/executions?status=queued')).json.items;
    for (const execution of active) await dave.post(`/api/v1/executions/${execution.id}/cancel`);
  });

  it('refuses shell and python when the live workers run at process level', async () => {
    const heartbeat = {
      workerId: 'w-process',
      hostname: 'h',
      pid: 1,
      startedAt: new Date().toISOString(),
      at: new Date().toISOString(),
      isolation: 'process' as const,
      concurrency: 1,
      running: 0,
      draining: false,
      pool: {},
    };
    await platform.services.workers.publish(heartbeat, 60_000);
    try {
      expectError(
        await alice.post('/api/v1/executions', { body: { language: 'shell', code: 'echo hi' } }),
        400,
        'unsupported_language',
      );
      const python = await alice.post('/api/v1/executions', {
        body: { language: 'python', code: 'print(1)' },
      });
      expectError(python, 400, 'unsupported_language');
      // The message says what is missing, whichever it is: the isolation level or python3.
      expect((python.json as { error: { message: string } }).error.message).toMatch(
        /Python needs bwrap isolation and python3.*'process' level.*javascript, typescript/,
      );
    } finally {
      await platform.services.workers.remove(heartbeat.workerId);
    }
  });
});

describe('files', () => {
  it('uploads raw and multipart, lists, downloads with type and disposition, deletes', async () => {
    const put = await alice.put('/api/v1/files/uploads/data%20set.csv', {
      body: 'a,b\n1,2\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(put.status).toBe(201);
    expect(put.json).toMatchObject({ path: 'uploads/data set.csv', size: 8 });

    const form = new FormData();
    form.append('dir', 'workspace/reports');
    form.append('file', new Blob(['{"ok":true}']), 'r.json');
    form.append('file', new Blob(['plain']), 'C:\\Users\\me\\notes.txt');
    const multipart = await alice.post('/api/v1/files', { body: form });
    expect(multipart.status).toBe(201);
    expect(multipart.json.items.map((f: { path: string }) => f.path)).toEqual([
      'workspace/reports/r.json',
      'workspace/reports/notes.txt',
    ]);

    const all = await alice.get('/api/v1/files');
    expect(all.json.items.map((f: { path: string }) => f.path)).toEqual(
      expect.arrayContaining([
        'uploads/data set.csv',
        'workspace/reports/r.json',
        'workspace/reports/notes.txt',
      ]),
    );
    expect(all.json.usedBytes).toBeGreaterThanOrEqual(8 + 11 + 5);
    expect(all.json.limitBytes).toBe(platform.config.files.userQuotaBytes);
    const workspace = await alice.get('/api/v1/files?prefix=workspace/');
    expect(workspace.json.items.map((f: { path: string }) => f.path)).toEqual([
      'workspace/reports/notes.txt',
      'workspace/reports/r.json',
    ]);

    const download = await alice.get('/api/v1/files/uploads/data%20set.csv');
    expect(download.status).toBe(200);
    expect(download.text).toBe('a,b\n1,2\n');
    expect(download.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(download.headers.get('content-disposition')).toBe(
      `attachment; filename="data set.csv"; filename*=UTF-8''data%20set.csv`,
    );
    expect(download.headers.get('content-security-policy')).toContain('sandbox');
    const etag = download.headers.get('etag') ?? '';
    const again = await alice.get('/api/v1/files/uploads/data%20set.csv', {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);

    expectError(await bob.get('/api/v1/files/uploads/data%20set.csv'), 404, 'not_found');
    expectError(await bob.delete('/api/v1/files/uploads/data%20set.csv'), 404, 'not_found');
    expect((await alice.delete('/api/v1/files/uploads/data%20set.csv')).status).toBe(204);
    expectError(await alice.get('/api/v1/files/uploads/data%20set.csv'), 404, 'not_found');
  });

  it('answers a single byte range with 206, a range past the end with 416, others with the whole file', async () => {
    const bytes = Buffer.from('0123456789abcdefghij');
    await alice.put('/api/v1/files/uploads/ranged.bin', { body: bytes });
    const whole = await alice.get('/api/v1/files/uploads/ranged.bin');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-length')).toBe('20');
    const etag = whole.headers.get('etag') ?? '';
    const cases: [string, number, string | null, string][] = [
      ['bytes=2-5', 206, 'bytes 2-5/20', '2345'],
      ['bytes=15-', 206, 'bytes 15-19/20', 'fghij'],
      ['bytes=-3', 206, 'bytes 17-19/20', 'hij'],
      ['bytes=18-400', 206, 'bytes 18-19/20', 'ij'],
      ['bytes=0-1,4-5', 200, null, bytes.toString()],
      ['bytes=5-2', 200, null, bytes.toString()],
      ['lines=1-2', 200, null, bytes.toString()],
    ];
    for (const [range, status, contentRange, body] of cases) {
      const response = await alice.get('/api/v1/files/uploads/ranged.bin', { headers: { range } });
      expect([range, response.status]).toEqual([range, status]);
      expect(response.headers.get('content-range')).toBe(contentRange);
      expect(response.text).toBe(body);
    }
    const stale = await alice.get('/api/v1/files/uploads/ranged.bin', {
      headers: { range: 'bytes=0-1', 'if-range': '"another-version"' },
    });
    expect(stale.status).toBe(200);
    const current = await alice.get('/api/v1/files/uploads/ranged.bin', {
      headers: { range: 'bytes=0-1', 'if-range': etag },
    });
    expect([current.status, current.text]).toEqual([206, '01']);
    for (const range of ['bytes=20-', 'bytes=-0']) {
      const past = await alice.get('/api/v1/files/uploads/ranged.bin', { headers: { range } });
      expectError(past, 416, 'range_not_satisfiable');
      expect(past.json.error.details).toEqual({ size: 20 });
    }
    expectError(
      await bob.get('/api/v1/files/uploads/ranged.bin', { headers: { range: 'bytes=0-1' } }),
      404,
      'not_found',
    );
  });

  it('stores any content type as bytes, and an empty body as an empty file', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const put = await alice.put('/api/v1/files/uploads/blob.bin', { body: bytes });
    expect(put.status).toBe(201);
    expect(put.json.size).toBe(4);
    const json = await alice.put('/api/v1/files/uploads/raw.json', {
      body: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(json.status).toBe(201);
    expect((await alice.get('/api/v1/files/uploads/raw.json')).text).toBe('{not json');
    const empty = await alice.put('/api/v1/files/uploads/empty.txt');
    expect(empty.status).toBe(201);
    expect(empty.json.size).toBe(0);
  });
});

describe('admin', () => {
  it('creates users with a first token, issues and revokes tokens, and audits each change', async () => {
    const created = await admin.post('/api/v1/admin/users', { body: { name: 'erin' } });
    expect(created.status).toBe(201);
    expect(created.json.user).toMatchObject({ name: 'erin', isAdmin: false });
    expect(created.json.token).toMatch(/^ipa_[\w-]{43}$/);
    const erin = clientFor(server.url, created.json.token);
    expect((await erin.get('/api/v1/me')).json.user.name).toBe('erin');

    const userId = created.json.user.id;
    const issued = await admin.post(`/api/v1/admin/users/${userId}/tokens`, { body: { name: 'ci' } });
    expect(issued.status).toBe(201);
    expect(issued.json.info).toMatchObject({ name: 'ci', userId, revokedAt: null });
    const listed = await admin.get(`/api/v1/admin/users/${userId}/tokens`);
    expect(listed.json.items.map((t: { name: string }) => t.name)).toEqual(['default', 'ci']);
    expect(JSON.stringify(listed.json)).not.toContain(issued.json.token);

    expect((await admin.delete(`/api/v1/admin/users/${userId}/tokens/${issued.json.info.id}`)).status).toBe(
      204,
    );
    expectError(await clientFor(server.url, issued.json.token).get('/api/v1/me'), 401, 'unauthorized');
    expectError(await admin.delete(`/api/v1/admin/users/${userId}/tokens/${missingId}`), 404, 'not_found');
    expectError(await admin.get(`/api/v1/admin/users/${missingId}/tokens`), 404, 'not_found');
    expectError(
      await admin.post(`/api/v1/admin/users/${missingId}/tokens`, { body: { name: 'x' } }),
      404,
      'not_found',
    );

    const users = await admin.get('/api/v1/admin/users?limit=200');
    expect(users.json.items.map((u: { name: string }) => u.name)).toEqual(
      expect.arrayContaining(['admin', 'erin']),
    );

    const audit = await admin.get('/api/v1/admin/audit?limit=200');
    const actions = audit.json.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['user.create', 'token.issue', 'token.revoke']));
  });

  it('answers stats: queue counts, executions by status and per minute, workers', async () => {
    const stats = await admin.get('/api/v1/admin/stats');
    expect(stats.status).toBe(200);
    expect(stats.json.queue).toEqual({
      waiting: expect.any(Number),
      active: expect.any(Number),
      delayed: expect.any(Number),
      failed: expect.any(Number),
      completed: expect.any(Number),
    });
    expect(stats.json.executions.byStatus).toMatchObject({
      queued: expect.any(Number),
      cancelled: expect.any(Number),
    });
    expect(stats.json.executions.perMinute).toHaveLength(60);
    expect(stats.json.workers).toEqual([]);
  });

  it('refuses non-administrators (403) and anonymous callers (401) on every admin route', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { name: 'mallory' }],
      ['GET', `/api/v1/admin/users/${aliceId}/tokens`],
      ['POST', `/api/v1/admin/users/${aliceId}/tokens`, { name: 'x' }],
      ['DELETE', `/api/v1/admin/users/${aliceId}/tokens/${missingId}`],
      ['GET', '/api/v1/admin/stats'],
      ['GET', '/api/v1/admin/audit'],
    ];
    for (const [method, path, body] of routes) {
      expectError(await request(server.url, method, path, { token: aliceToken, body }), 403, 'forbidden');
      expectError(await request(server.url, method, path, { body }), 401, 'unauthorized');
    }
  });
});

describe('health, metrics and the API description', () => {
  it('answers the probes', async () => {
    expect((await anonymous.get('/health/live')).json).toEqual({ status: 'ok' });
    expect((await anonymous.get('/health/ready')).json).toEqual({ status: 'ready' });
    const health = await anonymous.get('/health');
    expect(health.json).toMatchObject({
      status: 'ok',
      role: 'standalone',
      version: '1.2.3',
      // The suite also runs on PostgreSQL and Redis (through PgBouncer).
      checks: { database: 'ok', redis: platform.config.redis ? 'ok' : 'not_configured' },
    });
  });

  it('exposes Prometheus metrics with request latency by route template and queue depth', async () => {
    await alice.get(`/api/v1/sessions/${missingId}`);
    const metrics = await anonymous.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(
      /ipa_http_request_duration_seconds_count\{[^}]*route="\/api\/v1\/sessions\/:id",status_code="404"[^}]*\} \d+/,
    );
    expect(metrics.text).not.toContain(missingId);
    expect(metrics.text).toMatch(/ipa_queue_depth\{[^}]*state="waiting"[^}]*\} \d+/);
    expect(metrics.text).toMatch(/ipa_sse_clients\{role="standalone"\} 0/);
    expect(metrics.text).toContain('ipa_workers_connected');
  });

  it('serves the OpenAPI description generated from the route schemas, and the explorer', async () => {
    const openapi = await anonymous.get('/openapi.json');
    expect(openapi.status).toBe(200);
    expect(openapi.json.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.json.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/sessions',
        '/api/v1/sessions/{id}/messages',
        '/api/v1/executions/{id}/events',
        '/api/v1/admin/stats',
        '/health/ready',
      ]),
    );
    expect(openapi.json.components.schemas).toHaveProperty('Execution');
    const docs = await anonymous.get('/docs');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger');
  });

  it('sends security headers and no CORS headers when no origin is configured', async () => {
    const response = await anonymous.get('/health/live', { headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('x-request-id')).toEqual(expect.any(String));
  });
});
