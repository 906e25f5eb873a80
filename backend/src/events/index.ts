export { compareEventIds, parseEventId } from './ids.js';
export { createInProcessEventLog, type InProcessEventLogOptions } from './in-process-event-log.js';
export {
  createRedisEventLog,
  eventNotificationKey,
  eventStreamKey,
  type RedisEventLogOptions,
} from './redis-event-log.js';
export * from './types.js';
