export {
  type BullmqQueueOptions,
  createBullmqQueue,
  executionQueueName,
  waitListKey,
} from './bullmq-queue.js';
export { createInProcessQueue, type InProcessQueueOptions } from './in-process-queue.js';
export {
  closeRedisClient,
  createRedisClient,
  pingRedis,
  type RedisClientOptions,
  reviveWhenEnded,
} from './redis-client.js';
export { ConsumerClosingError } from './running-jobs.js';
export type * from './types.js';
export {
  createInProcessWorkerRegistry,
  createRedisWorkerRegistry,
  type RedisWorkerRegistryOptions,
} from './worker-registry.js';
