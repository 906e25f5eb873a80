import { createInProcessQueue } from '../../src/queue/index.js';
import { queueContract } from './queue.contract.js';

queueContract('in-process', async () => {
  const queue = createInProcessQueue({ maxAttempts: 3, backoffMs: 80, abortSettleMs: 200 });
  return { queue, backoffMs: 80, maxAttempts: 3, cleanup: () => queue.close() };
});
