import { type BlobStore, createMemoryBlobStore } from '../blobs/index.js';
import { createAuditRepository } from './repositories/audit.js';
import { createAutomationRepository } from './repositories/automations.js';
import { createEgressRepository } from './repositories/egress.js';
import { createExecutionRepository } from './repositories/executions.js';
import { createFileRepository } from './repositories/files.js';
import { createMessageRepository } from './repositories/messages.js';
import { createScheduleRepository } from './repositories/schedules.js';
import { createSessionRepository } from './repositories/sessions.js';
import { createTokenRepository } from './repositories/tokens.js';
import { createUserRepository } from './repositories/users.js';
import { createWebhookTriggerRepository } from './repositories/webhooks.js';
import type { Database, Queryable, Repositories, Store } from './types.js';

export interface StoreOptions {
  /** Where file contents live; in this process's memory when absent (tests, in-memory databases). */
  blobs?: BlobStore;
}

/** Every repository over one database; the schema must be current (`migrate`). */
export function createStore(db: Database, options: StoreOptions = {}): Store {
  const blobs = options.blobs ?? createMemoryBlobStore();
  return {
    db,
    ...repositoriesOver(db, blobs),
    transaction: (work) => db.transaction((tx) => work(repositoriesOver(tx, blobs))),
  };
}

function repositoriesOver(db: Queryable, blobs: BlobStore): Repositories {
  return {
    automations: createAutomationRepository(db),
    schedules: createScheduleRepository(db),
    webhooks: createWebhookTriggerRepository(db),
    users: createUserRepository(db),
    tokens: createTokenRepository(db),
    sessions: createSessionRepository(db),
    messages: createMessageRepository(db),
    executions: createExecutionRepository(db),
    files: createFileRepository(db, blobs),
    audit: createAuditRepository(db),
    egress: createEgressRepository(db),
  };
}
