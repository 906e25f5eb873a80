import { terminalEventTypes } from '../../../events/types.js';
import type { Services } from '../../../services.js';
import { type Execution, terminalStatuses } from '../../../store/types.js';

/**
 * Waits up to `ms` for an execution to finish, following its event stream (no polling), and
 * returns its row; unfinished when the time ran out.
 */
export async function waitForExecution(
  services: Services,
  executionId: string,
  ms: number,
): Promise<Execution | null> {
  const { events, store } = services;
  const deadline = Date.now() + ms;
  let after: string | undefined;
  for (;;) {
    const row = after === undefined ? await store.executions.get(executionId) : null;
    if (row && terminalStatuses.includes(row.status)) return row;
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const batch = await events.read(executionId, after, { blockMs: left, count: 100 });
      if (batch.some((event) => terminalEventTypes.includes(event.type))) break;
      after = batch.at(-1)?.id ?? after;
    } catch {
      // The event log is unreachable: fall back to looking at the row now and then.
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, left)));
      after = undefined;
    }
  }
  return store.executions.get(executionId);
}
