import { valueWithin } from '../lib/timeout.js';
import type { Logger } from '../observability/logger.js';
import type { ExecutionContext, ExecutionOutcome, Executor } from './executor.js';

/** How an executor's run ended: its outcome or error, and whether its signal fired first. */
export type Settled = { abortedFirst: boolean } & ({ outcome: ExecutionOutcome } | { error: unknown });

/** Runs the executor; once the signal fires it gets `abortSettleMs` to return before it is left behind. */
export async function runExecutor(
  executor: Executor,
  context: ExecutionContext,
  signal: AbortSignal,
  abortSettleMs: number,
  log: Logger,
): Promise<Settled> {
  const run = Promise.resolve()
    .then(() => executor.run(context))
    .then(
      (outcome) => ({ outcome }),
      (error: unknown) => ({ error }),
    );
  let onAbort = () => {};
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const first = await Promise.race([run, aborted]);
  signal.removeEventListener('abort', onAbort);
  if (first !== 'aborted') {
    if ('error' in first && !signal.aborted) log.error({ err: first.error }, 'executor threw');
    return { abortedFirst: false, ...first };
  }
  const late = await valueWithin(run, abortSettleMs);
  if (!late) {
    log.warn('executor did not return after its signal fired; settling without it');
    // Whatever it returns later is not stored, but what it holds (a sandbox lease) is let go.
    void run.then((left) => ('outcome' in left ? left.outcome?.files?.close(false) : undefined));
  }
  return { abortedFirst: true, ...(late ?? { error: signal.reason }) };
}
