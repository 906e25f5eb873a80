import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { request } from './client.js';

let platform: TestPlatform;
let server: ApiServer;
let token: string;
let sessionId: string;
let executionId: string;

const maxUploadBytes = 64 * 1024;
const quotaBytes = 100 * 1024;

beforeAll(async () => {
  platform = await createTestPlatform({
    env: {
      MAX_UPLOAD_BYTES: String(maxUploadBytes),
      USER_QUOTA_BYTES: String(quotaBytes),
      USER_CONCURRENCY: '5',
    },
  });
  server = await startTestApi(platform.services);
  const user = await createTestUser(platform.services, 'tester');
  token = user.token;
  sessionId = (await platform.services.store.sessions.create(user.user.id, 'S')).id;
  executionId = (
    await platform.services.store.executions.create({
      userId: user.user.id,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    })
  ).id;
});

afterAll(async () => {
  await server?.drain();
  await platform?.cleanup();
});

interface BadInput {
  name: string;
  method: string;
  path: string | (() => string);
  headers?: Record<string, string>;
  body?: string | Uint8Array | FormData | (() => string | Uint8Array | FormData);
  status: number;
  code: string;
}

const json = { 'content-type': 'application/json' };
const big = (bytes: number) => 'x'.repeat(bytes);

const cases: BadInput[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '{"title":',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'JSON that is not an object',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '[1,2]',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'empty body declared as JSON',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'prototype pollution attempt',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '{"__proto__":{"x":1}}',
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'wrong type',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '{"title":42}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'unknown field',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '{"title":"a","owner":"x"}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'empty title on rename',
    method: 'PATCH',
    path: () => `/api/v1/sessions/${sessionId}`,
    headers: json,
    body: '{"title":"   "}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'missing required field',
    method: 'PATCH',
    path: () => `/api/v1/sessions/${sessionId}`,
    headers: json,
    body: '{}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'text/plain body',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: { 'content-type': 'text/plain' },
    body: 'hello',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart body on a JSON route',
    method: 'POST',
    path: '/api/v1/executions',
    body: () => {
      const f = new FormData();
      f.append('language', 'javascript');
      return f;
    },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'body without content type on a JSON route',
    method: 'POST',
    path: '/api/v1/executions',
    body: () => new TextEncoder().encode('{"language":"javascript","code":"1"}'),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'huge JSON body',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: () => JSON.stringify({ title: big(400 * 1024) }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'script larger than 1 MiB',
    method: 'POST',
    path: '/api/v1/executions',
    headers: json,
    body: () => JSON.stringify({ language: 'javascript', code: big(1024 * 1024 + 1) }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'script body over the route limit',
    method: 'POST',
    path: '/api/v1/executions',
    headers: json,
    body: () => JSON.stringify({ language: 'javascript', code: big(5 * 1024 * 1024) }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'unknown language',
    method: 'POST',
    path: '/api/v1/executions',
    headers: json,
    body: '{"language":"ruby","code":"1"}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'empty code',
    method: 'POST',
    path: '/api/v1/executions',
    headers: json,
    body: '{"language":"python","code":""}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'empty message',
    method: 'POST',
    path: () => `/api/v1/sessions/${sessionId}/messages`,
    headers: json,
    body: '{"text":""}',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'session id that is not a UUID',
    method: 'GET',
    path: '/api/v1/sessions/123',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'execution id with SQL in it',
    method: 'GET',
    path: "/api/v1/executions/1'%20OR%20'1'='1",
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'token id that is not a UUID',
    method: 'POST',
    path: '/api/v1/executions/not-a-uuid/cancel',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'unknown status filter',
    method: 'GET',
    path: '/api/v1/executions?status=done',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'session filter that is not a UUID',
    method: 'GET',
    path: '/api/v1/executions?sessionId=abc',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'unknown query parameter',
    method: 'GET',
    path: '/api/v1/sessions?sort=asc',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'limit out of range',
    method: 'GET',
    path: '/api/v1/sessions?limit=0',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'limit not a number',
    method: 'GET',
    path: '/api/v1/sessions?limit=ten',
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'forged cursor',
    method: 'GET',
    path: '/api/v1/sessions?cursor=bm90LWEtY3Vyc29y',
    status: 400,
    code: 'invalid_cursor',
  },
  {
    name: 'path with ..',
    method: 'GET',
    path: '/api/v1/files/uploads/..%2F..%2Fetc%2Fpasswd',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'absolute path',
    method: 'PUT',
    path: '/api/v1/files/%2Fetc%2Fpasswd',
    body: 'x',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'path outside the three folders',
    method: 'PUT',
    path: '/api/v1/files/secrets/x.txt',
    body: 'x',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'path naming a folder',
    method: 'PUT',
    path: '/api/v1/files/uploads',
    body: 'x',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'path with a NUL byte',
    method: 'DELETE',
    path: '/api/v1/files/uploads/a%00b',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'list prefix with ..',
    method: 'GET',
    path: '/api/v1/files?prefix=../',
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'raw upload over the limit',
    method: 'PUT',
    path: '/api/v1/files/uploads/big.bin',
    body: () => new Uint8Array(maxUploadBytes + 1),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'multipart file over the limit',
    method: 'POST',
    path: '/api/v1/files',
    body: () => {
      const f = new FormData();
      f.append('file', new Blob([new Uint8Array(maxUploadBytes + 1)]), 'big.bin');
      return f;
    },
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'multipart with an unknown field',
    method: 'POST',
    path: '/api/v1/files',
    body: () => {
      const f = new FormData();
      f.append('owner', 'x');
      f.append('file', new Blob(['a']), 'a.txt');
      return f;
    },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'multipart without a file',
    method: 'POST',
    path: '/api/v1/files',
    body: () => {
      const f = new FormData();
      f.append('dir', 'uploads');
      return f;
    },
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'multipart into a bad folder',
    method: 'POST',
    path: '/api/v1/files',
    body: () => {
      const f = new FormData();
      f.append('dir', '../x');
      f.append('file', new Blob(['a']), 'a.txt');
      return f;
    },
    status: 400,
    code: 'invalid_path',
  },
  {
    name: 'JSON body on the multipart route',
    method: 'POST',
    path: '/api/v1/files',
    headers: json,
    body: '{}',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'malformed Last-Event-ID',
    method: 'GET',
    path: () => `/api/v1/executions/${executionId}/events`,
    headers: { 'last-event-id': 'yesterday' },
    status: 400,
    code: 'invalid_event_id',
  },
  {
    name: 'malformed ?after=',
    method: 'GET',
    path: () => `/api/v1/executions/${executionId}/events?after=1-2-3`,
    status: 400,
    code: 'invalid_event_id',
  },
  {
    name: 'NUL character in script code (PostgreSQL cannot store it)',
    method: 'POST',
    path: '/api/v1/executions',
    headers: json,
    body: '{"language":"python","code":"print(1)\\u0000"}',
    status: 400,
    code: 'invalid_text',
  },
  {
    name: 'NUL character in a session title',
    method: 'POST',
    path: '/api/v1/sessions',
    headers: json,
    body: '{"title":"a\\u0000b"}',
    status: 400,
    code: 'invalid_text',
  },
  {
    name: 'unknown route under /api',
    method: 'GET',
    path: '/api/v1/nothing-here',
    status: 404,
    code: 'not_found',
  },
  {
    name: 'unknown method on a route',
    method: 'PUT',
    path: '/api/v1/sessions',
    headers: json,
    body: '{}',
    status: 404,
    code: 'not_found',
  },
  {
    name: 'unknown route outside /api',
    method: 'GET',
    path: '/nothing-here',
    status: 404,
    code: 'not_found',
  },
];

describe('bad input gets a clear 4xx with the error shape', () => {
  it.each(cases)('$name → $status $code', async (c) => {
    const path = typeof c.path === 'function' ? c.path() : c.path;
    const body = typeof c.body === 'function' ? c.body() : c.body;
    const headers = { ...c.headers };
    const response = await request(server.url, c.method, path, { token, headers, body });
    expect(response.status, response.text.slice(0, 300)).toBe(c.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.json).toEqual({
      error: expect.objectContaining({ code: c.code, message: expect.any(String) }),
    });
    expect(Object.keys(response.json.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(
      true,
    );
  });

  it('lists every problem of a validation failure with its path', async () => {
    const response = await request(server.url, 'POST', '/api/v1/executions', {
      token,
      body: { language: 'cobol', code: 7, extra: true },
    });
    expect(response.status).toBe(400);
    const paths = response.json.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.language', 'body.code', 'body']));
    for (const detail of response.json.error.details) expect(detail.message).toEqual(expect.any(String));
  });

  it('answers 413 quota_exceeded when an upload would pass the quota, and writes nothing', async () => {
    const chunk = new Uint8Array(maxUploadBytes);
    expect(
      (await request(server.url, 'PUT', '/api/v1/files/uploads/one.bin', { token, body: chunk })).status,
    ).toBe(201);
    const over = await request(server.url, 'PUT', '/api/v1/files/uploads/two.bin', { token, body: chunk });
    expect(over.status).toBe(413);
    expect(over.json.error).toMatchObject({ code: 'quota_exceeded', details: { limitBytes: quotaBytes } });
    const listed = await request(server.url, 'GET', '/api/v1/files', { token });
    expect(listed.json.items.map((f: { path: string }) => f.path)).toEqual(['uploads/one.bin']);
    await request(server.url, 'DELETE', '/api/v1/files/uploads/one.bin', { token });
  });

  it('never leaks the cause of a 5xx', async () => {
    const failing = await createTestPlatform();
    const original = failing.services.store.sessions.list;
    failing.services.store.sessions.list = async () => {
      throw new Error('connection to 10.0.0.7:5432 refused; password=hunter2');
    };
    const failingServer = await startTestApi(failing.services);
    try {
      const user = await createTestUser(failing.services, 'x');
      const response = await request(failingServer.url, 'GET', '/api/v1/sessions', { token: user.token });
      expect(response.status).toBe(500);
      expect(response.json).toEqual({
        error: { code: 'internal_error', message: 'Something went wrong on our side.' },
      });
      expect(response.text).not.toContain('hunter2');
    } finally {
      failing.services.store.sessions.list = original;
      await failingServer.drain();
      await failing.cleanup();
    }
  });
});

describe('rate limits', () => {
  it('answers 429 rate_limited with Retry-After per token, and counts other tokens apart', async () => {
    const limited = await createTestPlatform({ env: { RATE_LIMIT_PER_MINUTE: '5' } });
    const limitedServer = await startTestApi(limited.services);
    try {
      const a = await createTestUser(limited.services, 'a');
      const b = await createTestUser(limited.services, 'b');
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof request>> | undefined;
      for (let i = 0; i < 7; i++) {
        last = await request(limitedServer.url, 'GET', '/api/v1/sessions', { token: a.token });
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expect(last?.json.error.code).toBe('rate_limited');
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await request(limitedServer.url, 'GET', '/api/v1/sessions', { token: b.token })).status).toBe(
        200,
      );
      // Probes are never rationed.
      expect((await request(limitedServer.url, 'GET', '/health/live')).status).toBe(200);
    } finally {
      await limitedServer.drain();
      await limited.cleanup();
    }
  });
});
