import type { ExecutionStatus, Page, PageRequest, ScriptLanguage } from './types.js';

/** Saved automations, their versions, schedules and webhook triggers (records and repositories). */

/** The JSON Schema an automation's input is validated against (null: any input). */
export type InputSchema = Record<string, unknown>;

export interface AutomationVersion {
  automationId: string;
  version: number;
  language: ScriptLanguage;
  code: string;
  inputSchema: InputSchema | null;
  authorId: string | null;
  createdAt: string;
}

/** An automation with its current (newest) version's content. */
export interface Automation {
  id: string;
  userId: string;
  name: string;
  description: string;
  enabled: boolean;
  version: number;
  language: ScriptLanguage;
  code: string;
  inputSchema: InputSchema | null;
  createdAt: string;
  updatedAt: string;
}

/** A list entry: the automation plus what the list shows beside it. */
export interface AutomationSummary extends Automation {
  lastRun: { id: string; status: ExecutionStatus; createdAt: string } | null;
  /** The earliest next tick of its enabled schedules (null: none). */
  nextFireAt: string | null;
}

export interface AutomationContent {
  language: ScriptLanguage;
  code: string;
  inputSchema?: InputSchema | null;
}

export interface AutomationRepository {
  /** Creates the automation and its version 1 in one transaction. */
  create(
    userId: string,
    input: AutomationContent & { name: string; description?: string; enabled?: boolean },
  ): Promise<Automation>;
  /** Null when it does not exist or belongs to another user. */
  get(userId: string, id: string): Promise<Automation | null>;
  /** Newest first; `search` matches name or description (case-insensitive substring). */
  list(userId: string, filter?: PageRequest & { search?: string }): Promise<Page<AutomationSummary>>;
  /**
   * Changes name/description, and stores a new version when content is given (fields not given are
   * taken from the current version). With `expectedVersion`, refuses (`VersionConflictError`) when
   * someone saved in between. Null when not found.
   */
  update(
    userId: string,
    id: string,
    change: Partial<AutomationContent> & {
      name?: string;
      description?: string;
      authorId?: string;
      expectedVersion?: number;
    },
  ): Promise<Automation | null>;
  setEnabled(userId: string, id: string, enabled: boolean): Promise<Automation | null>;
  delete(userId: string, id: string): Promise<boolean>;
  /** Newest first. */
  versions(userId: string, id: string, page?: PageRequest): Promise<Page<AutomationVersion> | null>;
  version(userId: string, id: string, version: number): Promise<AutomationVersion | null>;
}

export type OverlapPolicy = 'skip' | 'allow';
export type CatchUpPolicy = 'skip' | 'once';

export interface Schedule {
  id: string;
  automationId: string;
  cron: string;
  timeZone: string;
  input: unknown;
  enabled: boolean;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  /** The tick the schedule waits for; null while it (or its automation) is disabled. */
  nextFireAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ScheduleSettings {
  cron: string;
  timeZone: string;
  input?: unknown;
  enabled: boolean;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  nextFireAt: string | null;
}

/** A schedule whose tick has come, with what a run of it needs. */
export interface DueSchedule extends Schedule {
  userId: string;
  version: number;
  language: ScriptLanguage;
  code: string;
  inputSchema: InputSchema | null;
}

export interface ScheduleRepository {
  create(userId: string, automationId: string, settings: ScheduleSettings): Promise<Schedule | null>;
  list(userId: string, automationId: string): Promise<Schedule[] | null>;
  get(userId: string, automationId: string, id: string): Promise<Schedule | null>;
  update(
    userId: string,
    automationId: string,
    id: string,
    settings: ScheduleSettings,
  ): Promise<Schedule | null>;
  delete(userId: string, automationId: string, id: string): Promise<boolean>;
  /** Enabled schedules of enabled automations whose tick is at or before `now`, oldest tick first. */
  due(now: Date, limit: number): Promise<DueSchedule[]>;
  /** The earliest tick of any enabled schedule (null: none), to know how long to sleep. */
  nextTick(): Promise<string | null>;
  /**
   * Takes the tick `expected` of a schedule by moving it on to `next`: true for exactly one
   * caller, false when another replica took it (or the schedule changed) first.
   */
  claim(id: string, expected: string, next: string | null): Promise<boolean>;
  /** Sets the ticks of schedules of an automation (when it is enabled again or disabled). */
  setNextTicks(automationId: string, ticks: ReadonlyMap<string, string | null>): Promise<void>;
}

export interface WebhookTrigger {
  id: string;
  automationId: string;
  name: string;
  enabled: boolean;
  createdAt: string;
  rotatedAt: string | null;
}

/** What a delivery needs: the trigger, its secret and whether it may run now. */
export interface WebhookTarget extends WebhookTrigger {
  secret: string;
  userId: string;
  automationEnabled: boolean;
}

export interface WebhookTriggerRepository {
  /** The secret is returned here and by `rotate` only. */
  create(
    userId: string,
    automationId: string,
    input: { name: string; secret: string },
  ): Promise<WebhookTrigger | null>;
  list(userId: string, automationId: string): Promise<WebhookTrigger[] | null>;
  get(userId: string, automationId: string, id: string): Promise<WebhookTrigger | null>;
  setEnabled(
    userId: string,
    automationId: string,
    id: string,
    enabled: boolean,
  ): Promise<WebhookTrigger | null>;
  rotate(userId: string, automationId: string, id: string, secret: string): Promise<WebhookTrigger | null>;
  delete(userId: string, automationId: string, id: string): Promise<boolean>;
  /** Any user's trigger by id, for the unauthenticated hook route (which checks the signature). */
  target(id: string): Promise<WebhookTarget | null>;
  /**
   * Remembers a signature until `expiresAt`; false when it was already remembered (a replay).
   * Expired ones are forgotten on the way.
   */
  rememberSignature(triggerId: string, signature: string, expiresAt: Date): Promise<boolean>;
}

/** Someone saved a newer version since the one the caller edited. */
export class VersionConflictError extends Error {
  constructor(readonly currentVersion: number) {
    super(`the automation is at version ${currentVersion} now`);
    this.name = 'VersionConflictError';
  }
}
