import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compareEventIds, type EventLog, InvalidEventIdError } from '../../src/events/index.js';

export interface EventLogUnderTest {
  log: EventLog;
  /** Whether the stream of `executionId` still exists in the backing store. */
  exists(executionId: string): Promise<boolean>;
  cleanup(): Promise<void>;
}

const idPattern = /^\d+-\d+$/;

/**
 * A round trip through the log. Both logs answer in order, and a read takes its first look at its
 * stream when it is called, so once this is back every read called before it has looked: one that
 * found nothing is waiting. Awaited instead of a pause that hopes the reads got that far.
 */
const roundTrip = (log: EventLog) => log.last(randomUUID());

/** Polls until the stream is gone; resolves with the ms since `from`. */
async function gone(subject: EventLogUnderTest, executionId: string, from: number): Promise<number> {
  await expect.poll(() => subject.exists(executionId), { timeout: 5000, interval: 20 }).toBe(false);
  return Date.now() - from;
}

/** The behaviour every `EventLog` must show (docs/architecture.md, Events). */
export function eventLogContract(name: string, create: () => Promise<EventLogUnderTest>): void {
  describe(`EventLog contract: ${name}`, () => {
    let subject: EventLogUnderTest;
    let log: EventLog;
    beforeEach(async () => {
      subject = await create();
      log = subject.log;
    });
    afterEach(() => subject.cleanup());

    it('appends events with strictly increasing stream ids and reads them back in order', async () => {
      const execution = randomUUID();
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await log.append(execution, 'text.delta', { text: `t${i}`, i }));
      for (const id of ids) expect(id).toMatch(idPattern);
      for (let i = 1; i < ids.length; i++) expect(compareEventIds(ids[i - 1]!, ids[i]!)).toBeLessThan(0);
      const events = await log.read(execution, undefined);
      expect(events.map((e) => e.id)).toEqual(ids);
      expect(events[7]).toEqual({ id: ids[7], type: 'text.delta', data: { text: 't7', i: 7 } });
    });

    it('keeps JSON data faithfully and streams of executions apart', async () => {
      const a = randomUUID();
      const b = randomUUID();
      const data = { nested: { list: [1, 'two', null, true] }, unicode: 'zß水🚀', empty: '' };
      await log.append(a, 'tool.result', data);
      await log.append(b, 'execution.started', {});
      expect(await log.read(a, undefined)).toEqual([expect.objectContaining({ type: 'tool.result', data })]);
      expect((await log.read(b, undefined)).map((e) => e.type)).toEqual(['execution.started']);
      expect(await log.read(randomUUID(), undefined)).toEqual([]);
    });

    it('tells the newest event of a stream, and nothing for an empty one', async () => {
      const execution = randomUUID();
      expect(await log.last(execution)).toBeUndefined();
      await log.append(execution, 'output', { i: 1 });
      const id = await log.append(execution, 'execution.completed', { status: 'succeeded' });
      expect(await log.last(execution)).toEqual({
        id,
        type: 'execution.completed',
        data: { status: 'succeeded' },
      });
      await expect(log.last('not an id')).rejects.toThrow();
    });

    it('reads exclusively after an id, honouring count', async () => {
      const execution = randomUUID();
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await log.append(execution, 'output', { i }));
      expect((await log.read(execution, ids[3])).map((e) => e.id)).toEqual(ids.slice(4));
      expect((await log.read(execution, ids[3], { count: 2 })).map((e) => e.id)).toEqual(ids.slice(4, 6));
      expect(await log.read(execution, ids[9])).toEqual([]);
      expect((await log.read(execution, '0-0')).length).toBe(10);
    });

    it('rejects malformed ids, unknown types and bad options with clear errors', async () => {
      const execution = randomUUID();
      for (const bad of [
        '',
        'abc',
        '12',
        '1-',
        '-1',
        '1-2-3',
        '1.5-0',
        '99999999999999999999999-0',
        ' 1-0',
      ]) {
        await expect(log.read(execution, bad)).rejects.toBeInstanceOf(InvalidEventIdError);
      }
      await expect(log.append(execution, 'nope' as never, {})).rejects.toThrow(/event type/);
      await expect(log.append('bad:id', 'output', {})).rejects.toThrow(/execution id/);
      await expect(log.read(execution, undefined, { count: 0 })).rejects.toThrow(/count/);
      await expect(log.read(execution, undefined, { blockMs: -1 })).rejects.toThrow(/blockMs/);
    });

    it('a blocking read returns at once when events are there, and waits for the next one otherwise', async () => {
      const execution = randomUUID();
      const first = await log.append(execution, 'execution.queued', {});
      expect((await log.read(execution, undefined, { blockMs: 5000 })).map((e) => e.id)).toEqual([first]);
      const started = Date.now();
      const pending = log.read(execution, first, { blockMs: 5000 });
      let answered = false;
      void pending.then(() => {
        answered = true;
      });
      await roundTrip(log);
      expect(answered).toBe(false);
      const second = await log.append(execution, 'execution.started', { attempt: 1 });
      const events = await pending;
      expect(events).toEqual([{ id: second, type: 'execution.started', data: { attempt: 1 } }]);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('a blocking read on an empty stream wakes on the first append', async () => {
      const execution = randomUUID();
      const pending = log.read(execution, undefined, { blockMs: 5000 });
      await roundTrip(log);
      const id = await log.append(execution, 'execution.queued', { n: 1 });
      expect((await pending).map((e) => e.id)).toEqual([id]);
    });

    it('a blocking read that sees nothing returns [] after its timeout', async () => {
      const execution = randomUUID();
      const id = await log.append(execution, 'execution.queued', {});
      const started = Date.now();
      expect(await log.read(execution, id, { blockMs: 200 })).toEqual([]);
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(1500);
      // An event for another execution does not wake it.
      const other = randomUUID();
      const pending = log.read(execution, id, { blockMs: 300 });
      await log.append(other, 'output', {});
      expect(await pending).toEqual([]);
    });

    it('a blocking read ends early with [] when its signal aborts', async () => {
      const execution = randomUUID();
      const controller = new AbortController();
      const started = Date.now();
      const pending = log.read(execution, undefined, { blockMs: 10_000, signal: controller.signal });
      await roundTrip(log);
      controller.abort();
      expect(await pending).toEqual([]);
      expect(Date.now() - started).toBeLessThan(2000);
      // The stream is still readable afterwards.
      const id = await log.append(execution, 'output', {});
      expect((await log.read(execution, undefined, { blockMs: 1000 })).map((e) => e.id)).toEqual([id]);
    });

    it('wakes many concurrent blocked readers on different streams, each with its own events', async () => {
      const executions = Array.from({ length: 300 }, () => randomUUID());
      const pending = executions.map((e) => log.read(e, undefined, { blockMs: 10_000 }));
      await roundTrip(log);
      const ids = await Promise.all(executions.map((e, i) => log.append(e, 'output', { i })));
      const results = await Promise.all(pending);
      results.forEach((events, i) => {
        expect(events).toEqual([{ id: ids[i], type: 'output', data: { i } }]);
      });
    });

    it('wakes many concurrent blocked readers on the same stream, also readers joining late', async () => {
      const execution = randomUUID();
      const first = await log.append(execution, 'execution.queued', {});
      const early = Array.from({ length: 200 }, () => log.read(execution, first, { blockMs: 10_000 }));
      await roundTrip(log);
      const late = Array.from({ length: 50 }, () => log.read(execution, first, { blockMs: 10_000 }));
      const fromStart = log.read(execution, undefined, { blockMs: 10_000 });
      const second = await log.append(execution, 'execution.started', {});
      for (const events of await Promise.all([...early, ...late])) {
        expect(events.map((e) => e.id)).toEqual([second]);
      }
      // Both answers are right: the events after the start, oldest first, which may already
      // include the second one by the time this reader is served.
      expect([[first], [first, second]]).toContainEqual((await fromStart).map((e) => e.id));
    });

    it('a reader that keeps re-reading sees every event exactly once, in order', async () => {
      const execution = randomUUID();
      const written: string[] = [];
      const seen: string[] = [];
      const reader = (async () => {
        let after: string | undefined;
        while (seen.length < 200) {
          const events = await log.read(execution, after, { blockMs: 2000 });
          for (const e of events) seen.push(e.id);
          if (events.length > 0) after = events[events.length - 1]!.id;
          else break;
        }
      })();
      for (let i = 0; i < 200; i++) {
        written.push(await log.append(execution, 'text.delta', { i }));
        // Every 20 events the reader catches up, so it re-reads many times (and blocks in between).
        if (i % 20 === 0) {
          await vi.waitFor(() => expect(seen).toHaveLength(written.length), { timeout: 5000, interval: 5 });
        }
      }
      await reader;
      expect(seen).toEqual(written);
    });

    it('expire removes the stream after its TTL', async () => {
      const execution = randomUUID();
      await log.append(execution, 'execution.completed', {});
      const expiring = Date.now();
      await log.expire(execution, 1);
      expect(await subject.exists(execution)).toBe(true);
      // Gone after its TTL, and not long before (timer rounding aside).
      expect(await gone(subject, execution, expiring)).toBeGreaterThanOrEqual(900);
      expect(await log.read(execution, undefined)).toEqual([]);
      await expect(log.expire(execution, 0)).rejects.toThrow(/ttlSeconds/);
    });

    it('keeps one terminal event per stream: a repeated terminal append returns the first one and adds nothing', async () => {
      const execution = randomUUID();
      await log.append(execution, 'output', { stream: 'stdout', text: 'hi' });
      const first = await log.append(execution, 'execution.completed', { result: 1 });
      expect(await log.append(execution, 'execution.completed', { result: 1 })).toBe(first);
      expect(await log.append(execution, 'execution.failed', { error: 'late' })).toBe(first);
      expect((await log.read(execution, undefined)).map((e) => e.type)).toEqual([
        'output',
        'execution.completed',
      ]);
      expect(await log.last(execution)).toMatchObject({ id: first, data: { result: 1 } });
    });

    it('a terminal append with expireSeconds schedules the removal in the same call, also when repeated', async () => {
      const execution = randomUUID();
      // Its terminal event appended before without an expiry: the repeat that asks for one sets it.
      const resent = randomUUID();
      await log.append(execution, 'execution.started', {});
      await log.append(resent, 'execution.completed', {});
      const expiring = Date.now();
      await log.append(execution, 'execution.completed', {}, { expireSeconds: 1 });
      await log.append(resent, 'execution.completed', {}, { expireSeconds: 1 });
      expect(await subject.exists(execution)).toBe(true);
      expect(await subject.exists(resent)).toBe(true);
      const took = await Promise.all([gone(subject, execution, expiring), gone(subject, resent, expiring)]);
      for (const ms of took) expect(ms).toBeGreaterThanOrEqual(900);
      await expect(log.append(execution, 'execution.completed', {}, { expireSeconds: 0 })).rejects.toThrow(
        /ttlSeconds/,
      );
    });

    it('answers ping, and close ends blocked reads with []', async () => {
      await log.ping();
      const pending = log.read(randomUUID(), undefined, { blockMs: 10_000 });
      await roundTrip(log);
      await log.close();
      expect(await pending).toEqual([]);
    });
  });
}
