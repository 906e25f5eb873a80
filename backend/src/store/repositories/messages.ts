import { decodeSequenceCursor, pageLimit, toPage } from '../pagination.js';
import { isUuid, jsonParam, requireUuid, toIso, toNumber } from '../sql.js';
import type { Message, MessagePart, MessageRepository, MessageRole, Queryable } from '../types.js';

interface MessageRow {
  id: string;
  seq: string | number;
  session_id: string;
  execution_id: string | null;
  role: MessageRole;
  parts: MessagePart[];
  created_at: Date;
}

const messageColumns = 'id, seq, session_id, execution_id, role, parts, created_at';
const roles: readonly MessageRole[] = ['user', 'assistant', 'tool'];

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    sessionId: row.session_id,
    executionId: row.execution_id,
    role: row.role,
    parts: row.parts,
    createdAt: toIso(row.created_at),
  };
}

export function createMessageRepository(db: Queryable): MessageRepository {
  return {
    async append(input) {
      if (!roles.includes(input.role)) throw new RangeError(`unknown message role ${String(input.role)}`);
      if (!Array.isArray(input.parts)) throw new TypeError('message parts must be a list');
      // One statement: the message and the session's "last activity" move together.
      const { rows } = await db.query<MessageRow>(
        `WITH inserted AS (
           INSERT INTO messages (session_id, execution_id, role, parts)
           VALUES ($1, $2, $3, $4::jsonb)
           RETURNING ${messageColumns}
         ), touched AS (
           UPDATE sessions SET updated_at = clock_timestamp() WHERE id = $1
         )
         SELECT * FROM inserted`,
        [
          requireUuid(input.sessionId, 'sessionId'),
          input.executionId == null ? null : requireUuid(input.executionId, 'executionId'),
          input.role,
          jsonParam(input.parts),
        ],
      );
      return toMessage(rows[0]!);
    },

    async list(sessionId, page) {
      const limit = pageLimit(page);
      const after = page?.cursor === undefined ? null : decodeSequenceCursor(page.cursor);
      if (!isUuid(sessionId)) return { items: [], nextCursor: null };
      const params: unknown[] = [sessionId, limit + 1];
      let where = 'session_id = $1';
      if (after !== null) {
        params.push(after);
        where += ' AND seq > $3';
      }
      const { rows } = await db.query<MessageRow>(
        `SELECT ${messageColumns} FROM messages WHERE ${where} ORDER BY seq LIMIT $2`,
        params,
      );
      return toPage(rows, limit, toMessage, (row) => [toNumber(row.seq)]);
    },

    async latest(sessionId, limit, throughId) {
      if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a whole number ≥ 1');
      if (!isUuid(sessionId)) return [];
      const through = throughId !== undefined && isUuid(throughId) ? throughId : null;
      const { rows } = await db.query<MessageRow>(
        `SELECT * FROM (
           SELECT ${messageColumns} FROM messages
            WHERE session_id = $1
              AND seq <= COALESCE((SELECT seq FROM messages WHERE id = $3 AND session_id = $1), seq)
            ORDER BY seq DESC LIMIT $2
         ) newest ORDER BY seq`,
        [sessionId, limit, through],
      );
      return rows.map(toMessage);
    },

    async deleteByExecution(executionId, deleteRoles) {
      if (!isUuid(executionId) || deleteRoles.length === 0) return 0;
      for (const role of deleteRoles) {
        if (!roles.includes(role)) throw new RangeError(`unknown message role ${String(role)}`);
      }
      const { rowCount } = await db.query(
        'DELETE FROM messages WHERE execution_id = $1 AND role = ANY($2::text[])',
        [executionId, [...deleteRoles]],
      );
      return rowCount;
    },
  };
}
