import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ApiServer } from '../../src/api/index.js';
import { letTimePass } from '../support/fixed-wait.js';
import { createTestPlatform, createTestUser, startTestApi, type TestPlatform } from '../support/platform.js';
import { openSse, readUntilClosed, type SseMessage } from './client.js';

const keepAliveMs = 300;

describe.each([
  { mode: 'inProcess' as const, label: 'in-process event log' },
  { mode: 'distributed' as const, label: 'Redis Streams' },
])('execution events over SSE ($label)', ({ mode }) => {
  let platform: TestPlatform;
  let server: ApiServer;
  let userId: string;
  let auth: Record<string, string>;
  let otherAuth: Record<string, string>;

  beforeAll(async () => {
    platform = await createTestPlatform({ mode });
    server = await startTestApi(platform.services, { sseKeepAliveMs: keepAliveMs });
    const user = await createTestUser(platform.services, 'streamer');
    const other = await createTestUser(platform.services, 'other');
    userId = user.user.id;
    auth = { authorization: `Bearer ${user.token}` };
    otherAuth = { authorization: `Bearer ${other.token}` };
  });

  afterAll(async () => {
    // Every test is done: a connection the HTTP client opened and never sent a request on (the
    // server would wait for it through the whole shutdown grace period) is cut at once.
    const drained = server?.drain();
    server?.app.server.closeAllConnections();
    await drained;
    await platform?.cleanup();
  });

  const newExecution = async () =>
    (
      await platform.services.store.executions.create({
        userId,
        kind: 'script',
        input: { language: 'javascript', code: '1' },
      })
    ).id;
  const append = (id: string, n: number) =>
    platform.services.events.append(id, 'output', { stream: 'stdout', data: `line ${n}\n`, attempt: 1 });
  const eventsUrl = (id: string, query = '') => `${server.url}/api/v1/executions/${id}/events${query}`;

  it('streams every event with its id, type and data, and closes after the terminal one', async () => {
    const id = await newExecution();
    const ids = [await append(id, 1), await append(id, 2)];
    const connection = await openSse(eventsUrl(id), auth);
    expect(connection.status).toBe(200);
    expect(connection.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(connection.headers.get('cache-control')).toContain('no-cache');
    expect(connection.headers.get('x-accel-buffering')).toBe('no');
    const first = await connection.next();
    expect(first?.comment).toBeDefined();
    expect(await connection.next()).toEqual({
      id: ids[0],
      event: 'output',
      data: { stream: 'stdout', data: 'line 1\n', attempt: 1 },
    });
    expect((await connection.next())?.id).toBe(ids[1]);
    // Appended while the client waits: delivered live.
    const liveId = await append(id, 3);
    expect((await connection.next(2000))?.id).toBe(liveId);
    const endId = await platform.services.events.append(id, 'execution.completed', {
      status: 'succeeded',
      result: 42,
      durationMs: 5,
    });
    const rest = await readUntilClosed(connection);
    expect(rest.map((m) => [m.id, m.event])).toEqual([[endId, 'execution.completed']]);
    expect(rest[0]?.data).toEqual({ status: 'succeeded', result: 42, durationMs: 5 });
  });

  it('resumes after a dropped connection with no gap and no duplicate', async () => {
    const id = await newExecution();
    const appended: string[] = [];
    let producing = true;
    // Events keep arriving the whole time, including while the client is disconnected.
    const producer = (async () => {
      for (let n = 0; producing && n < 400; n++) {
        appended.push(await append(id, n));
        // Paced on purpose, so that production spans the client's disconnect and resume.
        if (n % 5 === 0) await letTimePass(2);
      }
      appended.push(
        await platform.services.events.append(id, 'execution.completed', {
          status: 'succeeded',
          result: null,
          durationMs: 1,
        }),
      );
    })();

    const received: SseMessage[] = [];
    const first = await openSse(eventsUrl(id), auth);
    while (received.length < 40) {
      const message = await first.next();
      if (message?.event) received.push(message);
    }
    first.drop();
    // Events arrive while the client is away (unless the producer is already through).
    const atDrop = appended.length;
    await vi.waitFor(() => expect(appended.length).toBeGreaterThanOrEqual(Math.min(atDrop + 5, 401)), {
      timeout: 5000,
      interval: 5,
    });
    const lastSeen = received.at(-1)?.id ?? '';
    const second = await openSse(eventsUrl(id), { ...auth, 'last-event-id': lastSeen });
    expect(second.status).toBe(200);
    setTimeout(() => {
      producing = false;
    }, 200);
    received.push(...(await readUntilClosed(second, 10_000)));
    await producer;

    const receivedIds = received.map((m) => m.id);
    expect(new Set(receivedIds).size).toBe(receivedIds.length);
    expect(receivedIds).toEqual(appended);
    expect(received.at(-1)?.event).toBe('execution.completed');
  });

  it('resumes with ?after= too, and Last-Event-ID wins over it', async () => {
    const id = await newExecution();
    const ids = [await append(id, 1), await append(id, 2), await append(id, 3)];
    ids.push(
      await platform.services.events.append(id, 'execution.cancelled', {
        status: 'cancelled',
        durationMs: 0,
      }),
    );
    const viaQuery = await readUntilClosed(await openSse(eventsUrl(id, `?after=${ids[0]}`), auth));
    expect(viaQuery.map((m) => m.id)).toEqual(ids.slice(1));
    const viaHeader = await readUntilClosed(
      await openSse(eventsUrl(id, `?after=${ids[0]}`), { ...auth, 'last-event-id': ids[2] ?? '' }),
    );
    expect(viaHeader.map((m) => m.id)).toEqual(ids.slice(3));
  });

  it('sends keep-alive comments while nothing happens', async () => {
    const id = await newExecution();
    const connection = await openSse(eventsUrl(id), auth);
    await connection.next(); // the opening comment
    const started = Date.now();
    const keepAlive = await connection.next(keepAliveMs * 5);
    expect(keepAlive).toEqual({ comment: 'keep-alive' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(keepAliveMs - 50);
    connection.drop();
  });

  it('answers 204 for a finished execution with nothing after the given id', async () => {
    const id = await newExecution();
    const endId = await platform.services.events.append(id, 'execution.cancelled', {
      status: 'cancelled',
      durationMs: 0,
    });
    await platform.services.store.executions.finish(id, { status: 'cancelled' });
    const response = await fetch(eventsUrl(id), { headers: { ...auth, 'last-event-id': endId } });
    expect(response.status).toBe(204);
  });

  it('tells a new client how a finished execution ended even when its stream has expired', async () => {
    const id = await newExecution();
    await platform.services.store.executions.finish(id, {
      status: 'failed',
      error: { code: 'boom', message: 'it broke' },
    });
    const messages = await readUntilClosed(await openSse(eventsUrl(id), auth), 5000);
    expect(messages).toEqual([
      {
        event: 'execution.failed',
        data: { status: 'failed', error: { code: 'boom', message: 'it broke' }, durationMs: 0 },
      },
    ]);
  });

  it('ends the stream from the execution record when its terminal event never comes', async () => {
    const id = await newExecution();
    const firstId = await append(id, 1);
    const connection = await openSse(eventsUrl(id), auth);
    await connection.next();
    expect((await connection.next())?.id).toBe(firstId);
    // The record says finished, but no terminal event is ever appended (a worker died in between).
    await platform.services.store.executions.finish(id, { status: 'succeeded', result: { ok: true } });
    const rest = await readUntilClosed(connection, keepAliveMs * 6);
    expect(rest).toEqual([
      {
        event: 'execution.completed',
        data: { status: 'succeeded', result: { ok: true }, durationMs: 0 },
      },
    ]);
  });

  it('asks the client to reconnect when the event log fails mid-stream, and the resume loses nothing', async () => {
    const id = await newExecution();
    const firstId = await append(id, 1);
    const connection = await openSse(eventsUrl(id), auth);
    await connection.next();
    expect((await connection.next())?.id).toBe(firstId);
    const { events } = platform.services;
    const read = events.read;
    events.read = async () => {
      throw new Error('connection lost');
    };
    let retry: number | undefined;
    try {
      const secondId = await append(id, 2);
      for (;;) {
        const message = await connection.next(keepAliveMs * 4);
        if (message === null) break;
        if (message.retry !== undefined) retry = message.retry;
      }
      expect(retry).toBe(2000);
      events.read = read;
      const resumed = await openSse(eventsUrl(id), { ...auth, 'last-event-id': firstId });
      await resumed.next();
      expect((await resumed.next())?.id).toBe(secondId);
      resumed.drop();
    } finally {
      events.read = read;
    }
  });

  it("answers 404 for another user's execution and 401 without a token", async () => {
    const id = await newExecution();
    const other = await fetch(eventsUrl(id), { headers: otherAuth });
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await fetch(eventsUrl(id))).status).toBe(401);
  });

  it('counts open streams and measures delivery lag', async () => {
    const id = await newExecution();
    const connection = await openSse(eventsUrl(id), auth);
    await connection.next();
    const scrape = async () => (await fetch(`${server.url}/metrics`)).text();
    expect(await scrape()).toMatch(/ipa_sse_clients\{[^}]*\} 1/);
    await append(id, 1);
    await connection.next(2000);
    expect(await scrape()).toMatch(/ipa_event_stream_lag_seconds_count\{[^}]*\} [1-9]/);
    connection.drop();
    await expect.poll(scrape, { timeout: 5000, interval: 20 }).toMatch(/ipa_sse_clients\{[^}]*\} 0/);
  });
});
