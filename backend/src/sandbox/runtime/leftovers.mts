/**
 * What a script leaves running after its run: timers, immediates, open handles, pending requests
 * and listeners on the runtime's own objects. Every async resource created while the script's
 * code runs — directly or from a callback of something the script started — belongs to the run;
 * when the run ends and one of them is still alive, the worker replaces this process, so nothing
 * a script starts outlives its run. A run that leaves nothing behind keeps the process warm.
 */
import { createHook, executionAsyncId } from 'node:async_hooks';

/** Async ids that belong to the current run (promises included, to follow `await`). */
const owned = new Set<number>();
/** The run's resources that can call back into the script later, by async id. */
const live = new Map<number, { type: string; resource: unknown }>();
let tracking = false;
let inScript = false;
// Promises hold no work of their own: what resolves them later is one of the other resources.
const transient = new Set(['PROMISE', 'TickObject', 'Microtask']);

createHook({
  init(id, type, trigger, resource) {
    if (!tracking) return;
    if (!inScript && !owned.has(executionAsyncId()) && !owned.has(trigger)) return;
    owned.add(id);
    if (!transient.has(type)) live.set(id, { type, resource });
  },
  destroy(id) {
    live.delete(id);
  },
}).enable();

/** Emitters of the runtime a script can reach through `require('node:process')`. */
const emitters = [process, process.stdin, process.stdout, process.stderr];

function listenerCount(): number {
  let count = 0;
  for (const emitter of emitters)
    for (const name of emitter.eventNames()) count += emitter.listenerCount(name);
  return count;
}

let listenersBefore = 0;

export function beginRun(): void {
  owned.clear();
  live.clear();
  listenersBefore = listenerCount();
  tracking = true;
}

/** Runs the script's synchronous part: what it creates belongs to the run. */
export function asScript<T>(body: () => T): T {
  inScript = true;
  try {
    return body();
  } finally {
    inScript = false;
  }
}

/** A timer or immediate knows synchronously that it was cleared or has fired for good. */
function finished(resource: unknown): boolean {
  return (resource as { _destroyed?: unknown } | null)?._destroyed === true;
}

function stillLive(): string[] {
  const left: string[] = [];
  for (const [id, { type, resource }] of live) {
    if ((type === 'Timeout' || type === 'Immediate') && finished(resource)) live.delete(id);
    else left.push(type);
  }
  return left;
}

const turn = (): Promise<void> => {
  const was = tracking;
  tracking = false;
  const next = new Promise<void>((resolve) => setImmediate(resolve));
  tracking = was;
  return next;
};

/**
 * Ends the run's tracking and names what it left alive (empty: clean). One event-loop turn lets
 * the script's floating promise chains settle first; closed handles and finished requests report
 * their end a turn or two later, so a run that used them waits up to three turns.
 */
export async function endRun(): Promise<string[]> {
  await turn();
  let left = stillLive();
  for (let i = 0; left.length > 0 && i < 3; i++) {
    await turn();
    left = stillLive();
  }
  tracking = false;
  if (listenerCount() > listenersBefore) left.push('listener on the runtime process');
  owned.clear();
  live.clear();
  return left;
}
