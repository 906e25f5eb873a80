import { describe, expect, it, vi } from 'vitest';
import { backoffDelay, reconnectDelayMs } from '../../src/lib/backoff.js';
import { createDependencyProbe, firstProblem, healthy } from '../../src/lib/dependency-probe.js';
import { TimeoutError, valueWithin, withTimeout } from '../../src/lib/timeout.js';

const never = () => new Promise<never>(() => {});

describe('withTimeout', () => {
  it('settles like the promise when it is in time', async () => {
    await expect(withTimeout(Promise.resolve(7), 50, 'x')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('boom')), 50, 'x')).rejects.toThrow('boom');
  });

  it('rejects with a TimeoutError naming what did not answer', async () => {
    const outcome = withTimeout(never(), 10, 'redis');
    await expect(outcome).rejects.toBeInstanceOf(TimeoutError);
    await expect(outcome).rejects.toThrow('redis did not answer within 10 ms');
  });
});

describe('valueWithin', () => {
  it('gives the value, or undefined on failure or timeout', async () => {
    await expect(valueWithin(Promise.resolve('v'), 50)).resolves.toBe('v');
    await expect(valueWithin(Promise.reject(new Error('no')), 50)).resolves.toBeUndefined();
    await expect(valueWithin(never(), 10)).resolves.toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('doubles from the base up to the ceiling', () => {
    const delays = [1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, { baseMs: 100, maxMs: 500 }));
    expect(delays).toEqual([100, 200, 400, 500, 500]);
    expect(backoffDelay(0, { baseMs: 100 })).toBe(100);
  });

  it('grows linearly for reconnect loops, capped at 2 s', () => {
    expect([1, 2, 10, 25].map(reconnectDelayMs)).toEqual([100, 200, 1000, 2000]);
  });

  it('with jitter stays between half the step and the step', () => {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(3, { baseMs: 100, jitter: true });
      expect(delay).toBeGreaterThanOrEqual(200);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });
});

describe('createDependencyProbe', () => {
  it('reports ok, not_configured, failures and timeouts by name', async () => {
    const ok = createDependencyProbe({ database: async () => {} });
    const okChecks = await ok.check();
    expect(okChecks).toEqual({ database: 'ok', redis: 'not_configured' });
    expect(healthy(okChecks)).toBe(true);
    expect(firstProblem(okChecks)).toBeUndefined();

    const bad = createDependencyProbe(
      { database: async () => Promise.reject(new Error('refused')), redis: never },
      { timeoutMs: 20 },
    );
    const badChecks = await bad.check();
    expect(badChecks).toEqual({ database: 'database: refused', redis: 'redis did not answer within 20 ms' });
    expect(healthy(badChecks)).toBe(false);
    expect(firstProblem(badChecks)).toBe('database: refused');
  });

  it('shares one round of checks within the cache window', async () => {
    const database = vi.fn(async () => {});
    const probe = createDependencyProbe({ database }, { cacheMs: 60_000 });
    await Promise.all([probe.check(), probe.check()]);
    await probe.check();
    expect(database).toHaveBeenCalledTimes(1);
  });
});
