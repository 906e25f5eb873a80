import { createInProcessEventLog, type EventLog } from '../../src/events/index.js';
import { eventLogContract } from './event-log.contract.js';

eventLogContract('in-process', async () => {
  const log: EventLog = createInProcessEventLog();
  return {
    log,
    // Only observable through reads: a stream with events reads non-empty from the start.
    exists: async (executionId) => (await log.read(executionId, undefined)).length > 0,
    cleanup: () => log.close(),
  };
});
