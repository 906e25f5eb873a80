import { isUuid, jsonParam, toIso, toIsoOrNull } from '../sql.js';
import type {
  CatchUpPolicy,
  DueSchedule,
  InputSchema,
  OverlapPolicy,
  Queryable,
  Schedule,
  ScheduleRepository,
  ScheduleSettings,
  ScriptLanguage,
} from '../types.js';

interface ScheduleRow {
  id: string;
  automation_id: string;
  cron: string;
  time_zone: string;
  input: unknown;
  enabled: boolean;
  overlap: OverlapPolicy;
  catch_up: CatchUpPolicy;
  next_fire_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface DueRow extends ScheduleRow {
  user_id: string;
  version: number;
  language: ScriptLanguage;
  code: string;
  input_schema: InputSchema | null;
}

const columns =
  's.id, s.automation_id, s.cron, s.time_zone, s.input, s.enabled, s.overlap, s.catch_up, s.next_fire_at, s.created_at, s.updated_at';
/** Schedules are reached through their automation, which must be the caller's. */
const owned = 'JOIN automations a ON a.id = s.automation_id AND a.user_id = $1';

function toSchedule(row: ScheduleRow): Schedule {
  return {
    id: row.id,
    automationId: row.automation_id,
    cron: row.cron,
    timeZone: row.time_zone,
    input: row.input ?? null,
    enabled: row.enabled,
    overlap: row.overlap,
    catchUp: row.catch_up,
    nextFireAt: toIsoOrNull(row.next_fire_at),
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

function settingsParams(settings: ScheduleSettings): unknown[] {
  return [
    settings.cron,
    settings.timeZone,
    jsonParam(settings.input),
    settings.enabled === true,
    settings.overlap,
    settings.catchUp,
    settings.enabled ? settings.nextFireAt : null,
  ];
}

export function createScheduleRepository(db: Queryable): ScheduleRepository {
  return {
    async create(userId, automationId, settings) {
      if (!isUuid(userId) || !isUuid(automationId)) return null;
      const { rows } = await db.query<ScheduleRow>(
        `INSERT INTO automation_schedules AS s
                (automation_id, cron, time_zone, input, enabled, overlap, catch_up, next_fire_at)
         SELECT a.id, $3, $4, $5::jsonb, $6, $7, $8, $9::timestamptz FROM automations a
          WHERE a.id = $2 AND a.user_id = $1
         RETURNING ${columns}`,
        [userId, automationId, ...settingsParams(settings)],
      );
      return rows[0] ? toSchedule(rows[0]) : null;
    },

    async list(userId, automationId) {
      if (!isUuid(userId) || !isUuid(automationId)) return null;
      const found = await db.query('SELECT 1 FROM automations WHERE id = $1 AND user_id = $2', [
        automationId,
        userId,
      ]);
      if (found.rowCount === 0) return null;
      const { rows } = await db.query<ScheduleRow>(
        `SELECT ${columns} FROM automation_schedules s WHERE s.automation_id = $1 ORDER BY s.created_at, s.id`,
        [automationId],
      );
      return rows.map(toSchedule);
    },

    async get(userId, automationId, id) {
      if (!isUuid(userId) || !isUuid(automationId) || !isUuid(id)) return null;
      const { rows } = await db.query<ScheduleRow>(
        `SELECT ${columns} FROM automation_schedules s ${owned} WHERE s.automation_id = $2 AND s.id = $3`,
        [userId, automationId, id],
      );
      return rows[0] ? toSchedule(rows[0]) : null;
    },

    async update(userId, automationId, id, settings) {
      if (!isUuid(userId) || !isUuid(automationId) || !isUuid(id)) return null;
      const { rows } = await db.query<ScheduleRow>(
        `UPDATE automation_schedules s
            SET cron = $4, time_zone = $5, input = $6::jsonb, enabled = $7, overlap = $8, catch_up = $9,
                next_fire_at = $10::timestamptz, updated_at = now()
           FROM automations a
          WHERE a.id = s.automation_id AND a.user_id = $1 AND s.automation_id = $2 AND s.id = $3
         RETURNING ${columns}`,
        [userId, automationId, id, ...settingsParams(settings)],
      );
      return rows[0] ? toSchedule(rows[0]) : null;
    },

    async delete(userId, automationId, id) {
      if (!isUuid(userId) || !isUuid(automationId) || !isUuid(id)) return false;
      const { rowCount } = await db.query(
        `DELETE FROM automation_schedules s USING automations a
          WHERE a.id = s.automation_id AND a.user_id = $1 AND s.automation_id = $2 AND s.id = $3`,
        [userId, automationId, id],
      );
      return rowCount > 0;
    },

    async due(now, limit) {
      const { rows } = await db.query<DueRow>(
        `SELECT ${columns}, a.user_id, a.version, v.language, v.code, v.input_schema
           FROM automation_schedules s
           JOIN automations a ON a.id = s.automation_id AND a.enabled
           JOIN automation_versions v ON v.automation_id = a.id AND v.version = a.version
          WHERE s.enabled AND s.next_fire_at IS NOT NULL AND s.next_fire_at <= $1::timestamptz
          ORDER BY s.next_fire_at LIMIT $2`,
        [now.toISOString(), Math.max(1, Math.floor(limit))],
      );
      return rows.map(
        (row): DueSchedule => ({
          ...toSchedule(row),
          userId: row.user_id,
          version: row.version,
          language: row.language,
          code: row.code,
          inputSchema: row.input_schema ?? null,
        }),
      );
    },

    async nextTick() {
      const { rows } = await db.query<{ at: Date | null }>(
        `SELECT min(s.next_fire_at) AS at FROM automation_schedules s
           JOIN automations a ON a.id = s.automation_id AND a.enabled
          WHERE s.enabled AND s.next_fire_at IS NOT NULL`,
      );
      return toIsoOrNull(rows[0]?.at ?? null);
    },

    async claim(id, expected, next) {
      if (!isUuid(id)) return false;
      // Compare-and-set on the tick: of all replicas that saw this tick due, one moves it on.
      const { rowCount } = await db.query(
        `UPDATE automation_schedules SET next_fire_at = $3::timestamptz
          WHERE id = $1 AND enabled AND next_fire_at = $2::timestamptz`,
        [id, expected, next],
      );
      return rowCount > 0;
    },

    async setNextTicks(automationId, ticks) {
      if (!isUuid(automationId)) return;
      for (const [id, tick] of ticks) {
        if (!isUuid(id)) continue;
        await db.query(
          `UPDATE automation_schedules SET next_fire_at = CASE WHEN enabled THEN $3::timestamptz END
            WHERE id = $1 AND automation_id = $2`,
          [id, automationId, tick],
        );
      }
    },
  };
}
