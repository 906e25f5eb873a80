import { scriptLanguages } from '../../lib/vocabulary.js';
import { decodeSequenceCursor, decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { inTransaction, isUuid, jsonParam, requireUuid, toIso, toIsoOrNull } from '../sql.js';
import {
  type Automation,
  type AutomationRepository,
  type AutomationSummary,
  type AutomationVersion,
  type ExecutionStatus,
  type InputSchema,
  type Queryable,
  type ScriptLanguage,
  VersionConflictError,
} from '../types.js';

interface AutomationRow {
  id: string;
  user_id: string;
  name: string;
  description: string;
  enabled: boolean;
  version: number;
  language: ScriptLanguage;
  code: string;
  input_schema: InputSchema | null;
  created_at: Date;
  updated_at: Date;
}

interface SummaryRow extends AutomationRow {
  last_run_id: string | null;
  last_run_status: ExecutionStatus | null;
  last_run_at: Date | null;
  next_fire_at: Date | null;
}

interface VersionRow {
  automation_id: string;
  version: number;
  language: ScriptLanguage;
  code: string;
  input_schema: InputSchema | null;
  author_id: string | null;
  created_at: Date;
}

/** The automation joined with its current version. */
const selectAutomation = `SELECT a.id, a.user_id, a.name, a.description, a.enabled, a.version, v.language, v.code,
       v.input_schema, a.created_at, a.updated_at
  FROM automations a JOIN automation_versions v ON v.automation_id = a.id AND v.version = a.version`;

const versionColumns = 'automation_id, version, language, code, input_schema, author_id, created_at';

function toAutomation(row: AutomationRow): Automation {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    description: row.description,
    enabled: row.enabled,
    version: row.version,
    language: row.language,
    code: row.code,
    inputSchema: row.input_schema ?? null,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

function toSummary(row: SummaryRow): AutomationSummary {
  return {
    ...toAutomation(row),
    lastRun:
      row.last_run_id && row.last_run_status && row.last_run_at
        ? { id: row.last_run_id, status: row.last_run_status, createdAt: toIso(row.last_run_at) }
        : null,
    nextFireAt: toIsoOrNull(row.next_fire_at),
  };
}

function toVersion(row: VersionRow): AutomationVersion {
  return {
    automationId: row.automation_id,
    version: row.version,
    language: row.language,
    code: row.code,
    inputSchema: row.input_schema ?? null,
    authorId: row.author_id,
    createdAt: toIso(row.created_at),
  };
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) {
    throw new RangeError('an automation name has 1 to 200 characters');
  }
  return name;
}

function checkLanguage(language: unknown): ScriptLanguage {
  if (!(scriptLanguages as readonly unknown[]).includes(language))
    throw new RangeError(`unknown language ${String(language)}`);
  return language as ScriptLanguage;
}

/** `%`, `_` and `\` match themselves in a search. */
const likePattern = (search: string) => `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export function createAutomationRepository(db: Queryable): AutomationRepository {
  const get = async (userId: string, id: string): Promise<Automation | null> => {
    if (!isUuid(userId) || !isUuid(id)) return null;
    const { rows } = await db.query<AutomationRow>(`${selectAutomation} WHERE a.id = $1 AND a.user_id = $2`, [
      id,
      userId,
    ]);
    return rows[0] ? toAutomation(rows[0]) : null;
  };

  return {
    async create(userId, input) {
      const owner = requireUuid(userId, 'userId');
      const name = checkName(input.name);
      const language = checkLanguage(input.language);
      return inTransaction(db, async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO automations (user_id, name, description, enabled) VALUES ($1, $2, $3, $4) RETURNING id`,
          [owner, name, input.description ?? '', input.enabled ?? true],
        );
        const id = rows[0]!.id;
        await tx.query(
          `INSERT INTO automation_versions (automation_id, version, language, code, input_schema, author_id)
           VALUES ($1, 1, $2, $3, $4::jsonb, $5)`,
          [id, language, input.code, jsonParam(input.inputSchema), owner],
        );
        const created = await tx.query<AutomationRow>(`${selectAutomation} WHERE a.id = $1`, [id]);
        return toAutomation(created.rows[0]!);
      });
    },

    get,

    async list(userId, filter = {}) {
      const limit = pageLimit(filter);
      const before = filter.cursor === undefined ? null : decodeTimeCursor(filter.cursor);
      if (!isUuid(userId)) return { items: [], nextCursor: null };
      const params: unknown[] = [userId, limit + 1];
      const where = ['a.user_id = $1'];
      if (filter.search) {
        params.push(likePattern(filter.search));
        where.push(`(a.name ILIKE $${params.length} OR a.description ILIKE $${params.length})`);
      }
      if (before) {
        params.push(before.at, before.id);
        where.push(`(a.created_at, a.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
      }
      const { rows } = await db.query<SummaryRow>(
        `SELECT s.*, r.id AS last_run_id, r.status AS last_run_status, r.created_at AS last_run_at,
                (SELECT min(next_fire_at) FROM automation_schedules
                  WHERE automation_id = s.id AND enabled AND s.enabled) AS next_fire_at
           FROM (${selectAutomation} WHERE ${where.join(' AND ')}
                 ORDER BY a.created_at DESC, a.id DESC LIMIT $2) s
           LEFT JOIN LATERAL (
             SELECT id, status, created_at FROM executions
              WHERE automation_id = s.id ORDER BY created_at DESC, id DESC LIMIT 1) r ON true
          ORDER BY s.created_at DESC, s.id DESC`,
        params,
      );
      return toPage(rows, limit, toSummary, (row) => [toIso(row.created_at), row.id]);
    },

    async update(userId, id, change) {
      if (!isUuid(userId) || !isUuid(id)) return null;
      if (change.name !== undefined) checkName(change.name);
      if (change.language !== undefined) checkLanguage(change.language);
      const newVersion =
        change.language !== undefined || change.code !== undefined || change.inputSchema !== undefined;
      return inTransaction(db, async (tx) => {
        // The row lock orders concurrent saves: each gets the next number, none is lost.
        // (Locked alone, then read: a join locked after waiting would re-check the old version row.)
        const locked = await tx.query('SELECT 1 FROM automations WHERE id = $1 AND user_id = $2 FOR UPDATE', [
          id,
          userId,
        ]);
        if (locked.rowCount === 0) return null;
        const read = await tx.query<AutomationRow>(`${selectAutomation} WHERE a.id = $1`, [id]);
        const current = read.rows[0];
        if (!current) return null;
        if (change.expectedVersion !== undefined && change.expectedVersion !== current.version) {
          throw new VersionConflictError(current.version);
        }
        const version = newVersion ? current.version + 1 : current.version;
        if (newVersion) {
          await tx.query(
            `INSERT INTO automation_versions (automation_id, version, language, code, input_schema, author_id)
             VALUES ($1, $2, $3, $4, $5::jsonb, $6)`,
            [
              id,
              version,
              change.language ?? current.language,
              change.code ?? current.code,
              jsonParam(change.inputSchema === undefined ? current.input_schema : change.inputSchema),
              change.authorId === undefined ? userId : requireUuid(change.authorId, 'authorId'),
            ],
          );
        }
        await tx.query(
          `UPDATE automations SET name = $2, description = $3, version = $4, updated_at = now() WHERE id = $1`,
          [id, change.name ?? current.name, change.description ?? current.description, version],
        );
        const updated = await tx.query<AutomationRow>(`${selectAutomation} WHERE a.id = $1`, [id]);
        return toAutomation(updated.rows[0]!);
      });
    },

    async setEnabled(userId, id, enabled) {
      if (!isUuid(userId) || !isUuid(id)) return null;
      const { rowCount } = await db.query(
        'UPDATE automations SET enabled = $3, updated_at = now() WHERE id = $1 AND user_id = $2',
        [id, userId, enabled === true],
      );
      return rowCount > 0 ? get(userId, id) : null;
    },

    async delete(userId, id) {
      if (!isUuid(userId) || !isUuid(id)) return false;
      const { rowCount } = await db.query('DELETE FROM automations WHERE id = $1 AND user_id = $2', [
        id,
        userId,
      ]);
      return rowCount > 0;
    },

    async versions(userId, id, page) {
      const limit = pageLimit(page);
      const before = page?.cursor === undefined ? null : decodeSequenceCursor(page.cursor);
      if (!(await get(userId, id))) return null;
      const { rows } = await db.query<VersionRow>(
        `SELECT ${versionColumns} FROM automation_versions
          WHERE automation_id = $1 AND ($3::int IS NULL OR version < $3::int)
          ORDER BY version DESC LIMIT $2`,
        [id, limit + 1, before],
      );
      return toPage(rows, limit, toVersion, (row) => [row.version]);
    },

    async version(userId, id, version) {
      if (!isUuid(userId) || !isUuid(id) || !Number.isSafeInteger(version)) return null;
      const { rows } = await db.query<VersionRow>(
        `SELECT v.automation_id, v.version, v.language, v.code, v.input_schema, v.author_id, v.created_at
           FROM automation_versions v
           JOIN automations a ON a.id = v.automation_id
          WHERE v.automation_id = $1 AND a.user_id = $2 AND v.version = $3`,
        [id, userId, version],
      );
      return rows[0] ? toVersion(rows[0]) : null;
    },
  };
}
