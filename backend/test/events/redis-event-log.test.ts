import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createRedisEventLog, eventStreamKey } from '../../src/events/index.js';
import { freshRedisPrefix, redisUrl } from '../support/services.js';
import { eventLogContract } from './event-log.contract.js';

const admin = new Redis(redisUrl);
afterAll(() => admin.quit());
const logger = pino({ level: 'silent' });

async function deleteKeys(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await admin.del(...keys);
  } while (cursor !== '0');
}

eventLogContract('Redis Streams (own connections)', async () => {
  const prefix = freshRedisPrefix();
  const log = createRedisEventLog({ redisUrl, prefix, logger });
  return {
    log,
    exists: async (executionId) => (await admin.exists(eventStreamKey(prefix, executionId))) === 1,
    cleanup: async () => {
      await log.close();
      await deleteKeys(prefix);
    },
  };
});

eventLogContract('Redis Streams (shared client)', async () => {
  const prefix = freshRedisPrefix();
  const shared = new Redis(redisUrl);
  const log = createRedisEventLog({ redis: shared, prefix, logger });
  return {
    log,
    exists: async (executionId) => (await admin.exists(eventStreamKey(prefix, executionId))) === 1,
    cleanup: async () => {
      await log.close();
      await shared.quit();
      await deleteKeys(prefix);
    },
  };
});

describe('Redis event log specifics', () => {
  it('keeps one terminal event per stream: a repeated terminal append (a resend after a failover) adds nothing', async () => {
    const prefix = freshRedisPrefix();
    const log = createRedisEventLog({ redisUrl, prefix, logger });
    try {
      const execution = randomUUID();
      await log.append(execution, 'output', { stream: 'stdout', text: 'hi' });
      const first = await log.append(execution, 'execution.completed', { result: 1 });
      expect(await log.append(execution, 'execution.completed', { result: 1 })).toBe(first);
      expect(await log.append(execution, 'execution.failed', { error: 'late' })).toBe(first);
      const types = (await log.read(execution, undefined)).map((e) => e.type);
      expect(types).toEqual(['output', 'execution.completed']);
      await log.expire(execution, 60);
      expect(await admin.ttl(`${eventStreamKey(prefix, execution)}:end`)).toBeGreaterThan(0);
      // The resend of a terminal append with its expiry sets the expiry even when it adds nothing.
      const resent = randomUUID();
      await log.append(resent, 'execution.completed', { result: 1 });
      await log.append(resent, 'execution.completed', { result: 1 }, { expireSeconds: 30 });
      for (const key of [eventStreamKey(prefix, resent), `${eventStreamKey(prefix, resent)}:end`])
        expect(await admin.ttl(key)).toBeGreaterThan(0);
    } finally {
      await log.close();
      await deleteKeys(prefix);
    }
  });

  it('stores events under <prefix>:events:<executionId> and caps the stream near maxLength', async () => {
    const prefix = freshRedisPrefix();
    const log = createRedisEventLog({ redisUrl, prefix, logger, maxLength: 100 });
    try {
      const execution = randomUUID();
      const id = await log.append(execution, 'output', { stream: 'stdout', text: 'hi' });
      const raw = await admin.xrange(`${prefix}:events:${execution}`, '-', '+');
      expect(raw).toEqual([[id, ['t', 'output', 'd', '{"stream":"stdout","text":"hi"}']]]);
      await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(execution, 'text.delta', { i })));
      const length = await admin.xlen(eventStreamKey(prefix, execution));
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(300);
    } finally {
      await log.close();
      await deleteKeys(prefix);
    }
  });

  it('serves 10,000 blocked readers with a handful of Redis connections', async () => {
    const prefix = freshRedisPrefix();
    const log = createRedisEventLog({ redisUrl, prefix, logger });
    const clientsBefore = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
    try {
      const executions = Array.from({ length: 10_000 }, () => randomUUID());
      const pending = executions.map((e) => log.read(e, undefined, { blockMs: 20_000 }));
      // Once the first reader is woken, every reader is waiting and the blocking connection is up.
      const firstId = await log.append(executions[0]!, 'output', { i: 0 });
      expect((await pending[0]!).map((e) => e.id)).toEqual([firstId]);
      const clientsWaiting = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);
      // The log's command connection plus its blocking one; other test files may come and go.
      expect(clientsWaiting - clientsBefore).toBeLessThanOrEqual(2 + 20);
      const ids = [
        firstId,
        ...(await Promise.all(executions.slice(1).map((e, i) => log.append(e, 'output', { i: i + 1 })))),
      ];
      const results = await Promise.all(pending);
      expect(results.map((events) => events.map((e) => e.id))).toEqual(ids.map((id) => [id]));
    } finally {
      await log.close();
      await deleteKeys(prefix);
    }
  });

  it('keeps serving blocked readers after its blocking connection is killed', async () => {
    const prefix = freshRedisPrefix();
    const log = createRedisEventLog({ redisUrl, prefix, logger });
    try {
      const execution = randomUUID();
      // Blocking connections of other logs (other test files share this Redis) are left alone.
      const notOurs = new Set(await blockingClientIds());
      const ourBlockingClient = () =>
        vi.waitFor(
          async () => {
            const id = (await blockingClientIds()).find((candidate) => !notOurs.has(candidate));
            expect(id, 'the log blocking in XREAD').toBeDefined();
            return id!;
          },
          { timeout: 5000, interval: 10 },
        );
      const first = log.read(execution, undefined, { blockMs: 10_000 });
      const killed = await ourBlockingClient();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes', 'ID', killed);
      notOurs.add(killed);
      const id = await log.append(execution, 'execution.queued', {});
      expect((await first).map((e) => e.id)).toEqual([id]);
      const second = log.read(execution, id, { blockMs: 10_000 });
      // Woken through the XREAD of the new connection, not only by the look after a reconnect.
      await ourBlockingClient();
      const next = await log.append(execution, 'execution.started', {});
      expect((await second).map((e) => e.id)).toEqual([next]);
    } finally {
      await log.close();
      await deleteKeys(prefix);
    }

    /** Ids of the event logs' blocking connections that sit in XREAD. */
    async function blockingClientIds(): Promise<string[]> {
      const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'normal'));
      return list
        .split('\n')
        .filter((l) => l.includes('name=ipa:events-blocking') && l.includes('cmd=xread'))
        .map((l) => /id=(\d+)/.exec(l)![1]!);
    }
  });

  it('ping rejects within about 2 s when Redis does not answer', async () => {
    const log = createRedisEventLog({ redisUrl: 'redis://127.0.0.1:1', prefix: freshRedisPrefix(), logger });
    try {
      const started = Date.now();
      await expect(log.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2600);
    } finally {
      await log.close();
    }
  });
});
