import { decodeTimeCursor, pageLimit, toPage } from '../pagination.js';
import { isUuid, toIso, toNumber } from '../sql.js';
import type { Page, PageRequest, Queryable, User, UserRepository } from '../types.js';

export interface UserRow {
  id: string;
  name: string;
  is_admin: boolean;
  created_at: Date;
}

export const userColumns = 'id, name, is_admin, created_at';

export function toUser(row: UserRow): User {
  return { id: row.id, name: row.name, isAdmin: row.is_admin, createdAt: toIso(row.created_at) };
}

export function userName(name: unknown): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed.length === 0 || trimmed.length > 200) {
    throw new RangeError('a user name has 1 to 200 characters');
  }
  return trimmed;
}

export function createUserRepository(db: Queryable): UserRepository {
  return {
    async create(input) {
      const { rows } = await db.query<UserRow>(
        `INSERT INTO users (name, is_admin) VALUES ($1, $2) RETURNING ${userColumns}`,
        [userName(input.name), input.isAdmin === true],
      );
      return toUser(rows[0]!);
    },

    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1`, [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },

    /** Oldest first, so the bootstrap admin leads the list. */
    async list(page?: PageRequest): Promise<Page<User>> {
      const limit = pageLimit(page);
      const after = page?.cursor === undefined ? null : decodeTimeCursor(page.cursor);
      const params: unknown[] = [limit + 1];
      let where = '';
      if (after) {
        params.push(after.at, after.id);
        where = 'WHERE (created_at, id) > ($2::timestamptz, $3::uuid)';
      }
      const { rows } = await db.query<UserRow>(
        `SELECT ${userColumns} FROM users ${where} ORDER BY created_at, id LIMIT $1`,
        params,
      );
      return toPage(rows, limit, toUser, (row) => [toIso(row.created_at), row.id]);
    },

    async sandboxGeneration(id) {
      if (!isUuid(id)) return 0;
      const { rows } = await db.query<{ sandbox_generation: number }>(
        'SELECT sandbox_generation FROM users WHERE id = $1',
        [id],
      );
      return rows[0]?.sandbox_generation ?? 0;
    },

    async syncState(id) {
      if (!isUuid(id)) return { generation: 0, filesRevision: 0 };
      const { rows } = await db.query<{ sandbox_generation: number; files_revision: string | number }>(
        'SELECT sandbox_generation, files_revision FROM users WHERE id = $1',
        [id],
      );
      const row = rows[0];
      return row
        ? { generation: row.sandbox_generation, filesRevision: toNumber(row.files_revision) }
        : { generation: 0, filesRevision: 0 };
    },

    async resetSandbox(id) {
      if (!isUuid(id)) return null;
      const { rows } = await db.query<{ sandbox_generation: number }>(
        'UPDATE users SET sandbox_generation = sandbox_generation + 1 WHERE id = $1 RETURNING sandbox_generation',
        [id],
      );
      return rows[0]?.sandbox_generation ?? null;
    },
  };
}
