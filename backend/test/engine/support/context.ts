import type { EventType } from '../../../src/events/types.js';
import {
  createStore,
  migrate,
  type NewExecution,
  openDatabase,
  type Store,
} from '../../../src/store/index.js';
import type { ExecutionContext } from '../../../src/worker/executor.js';
import type { testConfig } from './doubles.js';

/**
 * The platform's real store over an in-memory PGlite, migrated. Opening and migrating takes a
 * while, so a test file opens one (beforeAll) and each test makes its own user and session;
 * `store.db.close()` ends it (afterAll).
 */
export async function openTestStore(): Promise<Store> {
  const db = await openDatabase({ kind: 'pglite' });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return createStore(db);
}

export interface RecordedEvent {
  type: EventType;
  data: Record<string, unknown>;
}

/**
 * An ExecutionContext for a running execution stored in `store`, as a worker hands it to an
 * executor (of a new user when no `userId` is given); events are collected in `recorded`.
 */
export async function testContext(args: {
  execution: Omit<NewExecution, 'userId'> & { userId?: string };
  store: Store;
  config: ReturnType<typeof testConfig>;
  signal?: AbortSignal;
}): Promise<ExecutionContext & { recorded: RecordedEvent[] }> {
  const { store } = args;
  const userId = args.execution.userId ?? (await store.users.create({ name: 'engine test' })).id;
  const queued = await store.executions.create({ ...args.execution, userId });
  const execution = await store.executions.markRunning(queued.id, 'test', 1);
  if (!execution) throw new Error(`execution ${queued.id} could not be marked running`);
  const recorded: RecordedEvent[] = [];
  return {
    recorded,
    execution,
    attempt: 1,
    signal: args.signal ?? new AbortController().signal,
    emit: async (type, data) => {
      recorded.push({ type, data });
    },
    store,
    events: undefined as unknown as ExecutionContext['events'],
    config: args.config,
  };
}
