import { decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { jsonParam, requireUuid, toIso } from '../sql.js';
import type { AuditEntry, AuditRepository, Queryable } from '../types.js';

interface AuditRow {
  id: string;
  actor_id: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  at: Date;
}

const auditColumns = 'id, actor_id, action, target, details, at';

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    actorId: row.actor_id,
    action: row.action,
    target: row.target,
    details: row.details,
    at: toIso(row.at),
  };
}

export function createAuditRepository(db: Queryable): AuditRepository {
  return {
    async record(entry) {
      if (typeof entry.action !== 'string' || entry.action.length === 0 || entry.action.length > 200) {
        throw new RangeError('an audit action has 1 to 200 characters');
      }
      const details = entry.details ?? {};
      if (typeof details !== 'object' || details === null || Array.isArray(details)) {
        throw new TypeError('audit details must be an object');
      }
      await db.query(
        'INSERT INTO audit_log (actor_id, action, target, details) VALUES ($1, $2, $3, $4::jsonb)',
        [
          entry.actorId === null ? null : requireUuid(entry.actorId, 'actorId'),
          entry.action,
          entry.target ?? null,
          jsonParam(details),
        ],
      );
    },

    /** Newest first. */
    async list(page) {
      const limit = pageLimit(page);
      const before = page?.cursor === undefined ? null : decodeTimeCursor(page.cursor);
      const params: unknown[] = [limit + 1];
      let where = '';
      if (before) {
        params.push(before.at, before.id);
        where = 'WHERE (at, id) < ($2::timestamptz, $3::uuid)';
      }
      const { rows } = await db.query<AuditRow>(
        `SELECT ${auditColumns} FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT $1`,
        params,
      );
      return toPage(rows, limit, toEntry, (row) => [toIso(row.at), row.id]);
    },
  };
}
