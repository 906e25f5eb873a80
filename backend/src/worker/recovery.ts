import type { Services } from '../services.js';
import { createQueueReconciler } from './reconciler.js';

/**
 * Queues every unfinished execution that has no live job, at once and whatever its age: the
 * in-process queue of standalone mode does not survive a restart, but the database does, so what
 * was queued, or running when the process stopped, is run again (a running one as its next
 * attempt, its earlier one superseded). The same pass as the worker's periodic reconciler, over
 * every page; safe when the queue already holds some of them.
 */
export async function requeueUnfinished(
  services: Pick<Services, 'store' | 'queue' | 'events' | 'logger'>,
): Promise<number> {
  const reconciler = createQueueReconciler({ ...services, olderThanMs: 0 });
  let requeued = 0;
  for (;;) {
    const pass = await reconciler.pass();
    requeued += pass.requeued;
    if (!pass.more) return requeued;
  }
}
