import { decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { isUuid, jsonParam, requireUuid, toIso } from '../sql.js';
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
      const conditions: string[] = [];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      if (before) {
        conditions.push(`(at, id) < (${param(before.at)}::timestamptz, ${param(before.id)}::uuid)`);
      }
      if (page?.actorId !== undefined) {
        if (!isUuid(page.actorId)) return { items: [], nextCursor: null };
        conditions.push(`actor_id = ${param(page.actorId)}`);
      }
      if (page?.action !== undefined) {
        // `user.` names a family of actions; anything else names one action exactly.
        conditions.push(
          page.action.endsWith('.')
            ? `starts_with(action, ${param(page.action)})`
            : `action = ${param(page.action)}`,
        );
      }
      if (page?.from !== undefined) conditions.push(`at >= ${param(page.from)}::timestamptz`);
      if (page?.to !== undefined) conditions.push(`at < ${param(page.to)}::timestamptz`);
      const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
      const { rows } = await db.query<AuditRow>(
        `SELECT ${auditColumns} FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT $1`,
        params,
      );
      return toPage(rows, limit, toEntry, (row) => [toIso(row.at), row.id]);
    },
  };
}
