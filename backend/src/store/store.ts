import { createAuditRepository } from './repositories/audit.js';
import { createAutomationRepository } from './repositories/automations.js';
import { createExecutionRepository } from './repositories/executions.js';
import { createFileRepository } from './repositories/files.js';
import { createMessageRepository } from './repositories/messages.js';
import { createScheduleRepository } from './repositories/schedules.js';
import { createSessionRepository } from './repositories/sessions.js';
import { createTokenRepository } from './repositories/tokens.js';
import { createUserRepository } from './repositories/users.js';
import { createWebhookTriggerRepository } from './repositories/webhooks.js';
import type { Database, Queryable, Repositories, Store } from './types.js';

/** Every repository over one database; the schema must be current (`migrate`). */
export function createStore(db: Database): Store {
  return {
    db,
    ...repositoriesOver(db),
    transaction: (work) => db.transaction((tx) => work(repositoriesOver(tx))),
  };
}

function repositoriesOver(db: Queryable): Repositories {
  return {
    automations: createAutomationRepository(db),
    schedules: createScheduleRepository(db),
    webhooks: createWebhookTriggerRepository(db),
    users: createUserRepository(db),
    tokens: createTokenRepository(db),
    sessions: createSessionRepository(db),
    messages: createMessageRepository(db),
    executions: createExecutionRepository(db),
    files: createFileRepository(db),
    audit: createAuditRepository(db),
  };
}
