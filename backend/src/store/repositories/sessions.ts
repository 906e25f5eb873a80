import { decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { containsPattern, isUuid, requireUuid, toIso } from '../sql.js';
import type { Queryable, Session, SessionRepository } from '../types.js';

interface SessionRow {
  id: string;
  user_id: string;
  title: string;
  created_at: Date;
  updated_at: Date;
}

const sessionColumns = 'id, user_id, title, created_at, updated_at';

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    title: row.title,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

function sessionTitle(title: unknown): string {
  if (typeof title !== 'string' || title.length > 500) {
    throw new RangeError('a session title has at most 500 characters');
  }
  return title;
}

export function createSessionRepository(db: Queryable): SessionRepository {
  return {
    async create(userId, title) {
      const { rows } = await db.query<SessionRow>(
        `INSERT INTO sessions (user_id, title) VALUES ($1, $2) RETURNING ${sessionColumns}`,
        [requireUuid(userId, 'userId'), sessionTitle(title)],
      );
      return toSession(rows[0]!);
    },

    async list(userId, page) {
      const limit = pageLimit(page);
      const before = page?.cursor === undefined ? null : decodeTimeCursor(page.cursor);
      if (!isUuid(userId)) return { items: [], nextCursor: null };
      const params: unknown[] = [userId, limit + 1];
      let where = 'user_id = $1';
      if (before) {
        params.push(before.at, before.id);
        where += ` AND (created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
      }
      if (page?.q) {
        // The title, or the text of any message: what a person remembers of a conversation.
        params.push(containsPattern(page.q));
        const n = params.length;
        where += ` AND (title ILIKE $${n} ESCAPE '\\' OR EXISTS (
          SELECT 1 FROM messages m, jsonb_array_elements(m.parts) part
           WHERE m.session_id = sessions.id AND part->>'type' = 'text' AND part->>'text' ILIKE $${n} ESCAPE '\\'))`;
      }
      const { rows } = await db.query<SessionRow>(
        `SELECT ${sessionColumns} FROM sessions WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT $2`,
        params,
      );
      return toPage(rows, limit, toSession, (row) => [toIso(row.created_at), row.id]);
    },

    async get(userId, id) {
      if (!isUuid(userId) || !isUuid(id)) return null;
      const { rows } = await db.query<SessionRow>(
        `SELECT ${sessionColumns} FROM sessions WHERE id = $1 AND user_id = $2`,
        [id, userId],
      );
      return rows[0] ? toSession(rows[0]) : null;
    },

    async rename(userId, id, title) {
      const checked = sessionTitle(title);
      if (!isUuid(userId) || !isUuid(id)) return null;
      const { rows } = await db.query<SessionRow>(
        `UPDATE sessions SET title = $3, updated_at = clock_timestamp()
          WHERE id = $1 AND user_id = $2 RETURNING ${sessionColumns}`,
        [id, userId, checked],
      );
      return rows[0] ? toSession(rows[0]) : null;
    },

    async delete(userId, id) {
      if (!isUuid(userId) || !isUuid(id)) return false;
      const { rowCount } = await db.query('DELETE FROM sessions WHERE id = $1 AND user_id = $2', [
        id,
        userId,
      ]);
      return rowCount > 0;
    },
  };
}
