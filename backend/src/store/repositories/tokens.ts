import { createHash, randomBytes } from 'node:crypto';
import { isUuid, requireUuid, toIso, toIsoOrNull } from '../sql.js';
import type { ApiTokenInfo, Queryable, TokenKind, TokenRepository } from '../types.js';
import { toUser, type UserRow } from './users.js';

interface TokenRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
  kind: TokenKind;
  device: string | null;
}

const tokenColumns =
  'id, user_id, name, prefix, created_at, last_used_at, revoked_at, expires_at, kind, device';
/** Characters of a token shown in lists: enough to tell tokens apart, too few to guess one. */
const shownPrefixLength = 8;
/** Longer "tokens" are rejected before hashing: no real one comes near it. */
const maxTokenLength = 512;

function toInfo(row: TokenRow): ApiTokenInfo {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: toIso(row.created_at),
    lastUsedAt: toIsoOrNull(row.last_used_at),
    revokedAt: toIsoOrNull(row.revoked_at),
    expiresAt: toIsoOrNull(row.expires_at),
    kind: row.kind,
    device: row.device,
  };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** `ipa_` + 32 random bytes in base64url (43 characters). */
export function generateToken(): string {
  return `ipa_${randomBytes(32).toString('base64url')}`;
}

function tokenName(name: unknown): string {
  if (typeof name !== 'string' || name.length > 200)
    throw new RangeError('a token name has at most 200 characters');
  return name;
}

const tokenKinds: readonly TokenKind[] = ['api', 'signin'];

function deviceText(device: unknown): string | null {
  if (device === undefined || device === null || device === '') return null;
  if (typeof device !== 'string') throw new RangeError('a device is a string');
  return device.slice(0, 200);
}

export function createTokenRepository(db: Queryable): TokenRepository {
  const insert = async (
    userId: string,
    name: string,
    token: string,
    expiresInSeconds: number | null = null,
    kind: TokenKind = 'api',
    device: string | null = null,
  ): Promise<TokenRow | undefined> => {
    if (!tokenKinds.includes(kind)) throw new RangeError(`a token kind is one of ${tokenKinds.join(', ')}`);
    const { rows } = await db.query<TokenRow>(
      `INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at, kind, device)
       VALUES ($1, $2, $3, $4, clock_timestamp() + make_interval(secs => $5::double precision), $6, $7)
       ON CONFLICT (token_hash) DO NOTHING
       RETURNING ${tokenColumns}`,
      [
        requireUuid(userId, 'userId'),
        tokenName(name),
        hashToken(token),
        token.slice(0, shownPrefixLength),
        expiresInSeconds,
        kind,
        deviceText(device),
      ],
    );
    return rows[0];
  };

  return {
    async issue(userId, name, options = {}) {
      const { expiresInSeconds } = options;
      if (expiresInSeconds !== undefined && !(Number.isFinite(expiresInSeconds) && expiresInSeconds > 0))
        throw new RangeError('expiresInSeconds must be a positive number');
      const token = generateToken();
      const row = await insert(userId, name, token, expiresInSeconds, options.kind, options.device);
      // 256 random bits never collide; an empty RETURNING would mean a broken random source.
      if (!row) throw new Error('token collision');
      return { token, info: toInfo(row) };
    },

    async ensure(userId, name, token) {
      if (typeof token !== 'string' || token.length < 24 || token.length > maxTokenLength) {
        throw new RangeError(`a token has 24 to ${maxTokenLength} characters`);
      }
      const inserted = await insert(userId, name, token);
      if (inserted) return toInfo(inserted);
      const { rows } = await db.query<TokenRow>(
        `SELECT ${tokenColumns} FROM api_tokens WHERE token_hash = $1`,
        [hashToken(token)],
      );
      const existing = rows[0];
      if (!existing) throw new Error('token vanished while being ensured');
      if (existing.user_id !== userId) throw new Error('this token already belongs to another user');
      return toInfo(existing);
    },

    async authenticate(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > maxTokenLength) return null;
      // The hot path of every request: one lookup on the unique hash index. The last-use time is
      // written at most once a minute per token so reads stay reads.
      const { rows } = await db.query<UserRow & { token_id: string; stale: boolean }>(
        `SELECT u.id, u.name, u.is_admin, u.created_at, t.id AS token_id,
                (t.last_used_at IS NULL OR t.last_used_at < clock_timestamp() - interval '1 minute') AS stale
           FROM api_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = $1 AND t.revoked_at IS NULL
            AND (t.expires_at IS NULL OR t.expires_at > clock_timestamp())`,
        [hashToken(token)],
      );
      const row = rows[0];
      if (!row) return null;
      if (row.stale) {
        await db.query(
          `UPDATE api_tokens SET last_used_at = clock_timestamp()
            WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < clock_timestamp() - interval '1 minute')`,
          [row.token_id],
        );
      }
      return { user: toUser(row), tokenId: row.token_id };
    },

    async list(userId, options = {}) {
      if (!isUuid(userId)) return [];
      const { rows } = await db.query<TokenRow>(
        `SELECT ${tokenColumns} FROM api_tokens
          WHERE user_id = $1 AND ($2::text IS NULL OR kind = $2)
          ORDER BY created_at, id`,
        [userId, options.kind ?? null],
      );
      return rows.map(toInfo);
    },

    async revoke(userId, tokenId) {
      if (!isUuid(userId) || !isUuid(tokenId)) return false;
      const { rowCount } = await db.query(
        `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, clock_timestamp())
          WHERE id = $1 AND user_id = $2`,
        [tokenId, userId],
      );
      return rowCount > 0;
    },

    async deleteEnded(userId) {
      if (!isUuid(userId)) return 0;
      const { rowCount } = await db.query(
        `DELETE FROM api_tokens
          WHERE user_id = $1 AND expires_at IS NOT NULL
            AND (expires_at <= clock_timestamp() OR revoked_at IS NOT NULL)`,
        [userId],
      );
      return rowCount;
    },
  };
}
