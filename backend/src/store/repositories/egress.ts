import { isUuid, jsonParam, requireUuid, toIso, toNumber, toNumberOrNull } from '../sql.js';
import type { EgressRepository, EgressRequestEntry, Queryable, StoredSecret } from '../types.js';

interface SecretRow {
  id: string;
  user_id: string;
  name: string;
  hosts: string[];
  header_name: string | null;
  header_template: string | null;
  query_param: string | null;
  key_id: string;
  ciphertext: string;
  created_at: Date;
  updated_at: Date;
}

const secretColumns =
  'id, user_id, name, hosts, header_name, header_template, query_param, key_id, ciphertext, created_at, updated_at';

function toSecret(row: SecretRow): StoredSecret {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    hosts: row.hosts,
    delivery:
      row.query_param !== null
        ? { query: row.query_param }
        : { header: row.header_name as string, template: row.header_template as string },
    keyId: row.key_id,
    ciphertext: row.ciphertext,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  };
}

interface RequestRow {
  id: string;
  execution_id: string | null;
  user_id: string;
  host: string;
  port: number;
  method: string;
  status: number | null;
  bytes_sent: string | number;
  bytes_received: string | number;
  duration_ms: number;
  outcome: EgressRequestEntry['outcome'];
  reason: string | null;
  at: Date;
}

export function createEgressRepository(db: Queryable): EgressRepository {
  return {
    async putSecret(input) {
      const header = 'header' in input.delivery ? input.delivery : undefined;
      const query = 'query' in input.delivery ? input.delivery.query : null;
      const { rows } = await db.query<SecretRow>(
        `INSERT INTO user_secrets (user_id, name, hosts, header_name, header_template, query_param, key_id, ciphertext)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id, name) DO UPDATE SET hosts = EXCLUDED.hosts, header_name = EXCLUDED.header_name,
           header_template = EXCLUDED.header_template, query_param = EXCLUDED.query_param,
           key_id = EXCLUDED.key_id, ciphertext = EXCLUDED.ciphertext, updated_at = now()
         RETURNING ${secretColumns}`,
        [
          requireUuid(input.userId, 'userId'),
          input.name,
          jsonParam(input.hosts),
          header?.header ?? null,
          header?.template ?? null,
          query,
          input.keyId,
          input.ciphertext,
        ],
      );
      return toSecret(rows[0] as SecretRow);
    },

    async getSecret(userId, name) {
      if (!isUuid(userId)) return undefined;
      const { rows } = await db.query<SecretRow>(
        `SELECT ${secretColumns} FROM user_secrets WHERE user_id = $1 AND name = $2`,
        [userId, name],
      );
      return rows[0] ? toSecret(rows[0]) : undefined;
    },

    async listSecrets(userId) {
      if (!isUuid(userId)) return [];
      const { rows } = await db.query<SecretRow>(
        `SELECT ${secretColumns} FROM user_secrets WHERE user_id = $1 ORDER BY name`,
        [userId],
      );
      return rows.map(toSecret);
    },

    async deleteSecret(userId, name) {
      if (!isUuid(userId)) return false;
      const { rows } = await db.query<{ id: string }>(
        'DELETE FROM user_secrets WHERE user_id = $1 AND name = $2 RETURNING id',
        [userId, name],
      );
      return rows.length > 0;
    },

    async secretsNotUnder(keyId, limit) {
      const { rows } = await db.query<SecretRow>(
        `SELECT ${secretColumns} FROM user_secrets WHERE key_id <> $1 ORDER BY id LIMIT $2`,
        [keyId, limit],
      );
      return rows.map(toSecret);
    },

    async reencryptSecret(id, previous, keyId, ciphertext) {
      const { rows } = await db.query<{ id: string }>(
        'UPDATE user_secrets SET key_id = $3, ciphertext = $4 WHERE id = $1 AND ciphertext = $2 RETURNING id',
        [requireUuid(id, 'id'), previous, keyId, ciphertext],
      );
      return rows.length > 0;
    },

    async userAllowlist(userId) {
      if (!isUuid(userId)) return null;
      const { rows } = await db.query<{ rules: string[] }>(
        'SELECT rules FROM user_egress WHERE user_id = $1',
        [userId],
      );
      return rows[0]?.rules ?? null;
    },

    async setUserAllowlist(userId, rules) {
      requireUuid(userId, 'userId');
      if (rules === null) {
        await db.query('DELETE FROM user_egress WHERE user_id = $1', [userId]);
        return;
      }
      await db.query(
        `INSERT INTO user_egress (user_id, rules) VALUES ($1, $2::jsonb)
         ON CONFLICT (user_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`,
        [userId, jsonParam(rules)],
      );
    },

    async automationAllowlist(automationId) {
      if (!isUuid(automationId)) return null;
      const { rows } = await db.query<{ owner_id: string; rules: string[] }>(
        'SELECT owner_id, rules FROM automation_egress WHERE automation_id = $1',
        [automationId],
      );
      return rows[0] ? { ownerId: rows[0].owner_id, rules: rows[0].rules } : null;
    },

    async setAutomationAllowlist(automationId, ownerId, rules) {
      requireUuid(automationId, 'automationId');
      requireUuid(ownerId, 'ownerId');
      if (rules === null) {
        await db.query('DELETE FROM automation_egress WHERE automation_id = $1 AND owner_id = $2', [
          automationId,
          ownerId,
        ]);
        return;
      }
      // The owner recorded first stays the owner: another user cannot take the row over.
      const { rows } = await db.query<{ automation_id: string }>(
        `INSERT INTO automation_egress (automation_id, owner_id, rules) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (automation_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()
           WHERE automation_egress.owner_id = EXCLUDED.owner_id
         RETURNING automation_id`,
        [automationId, ownerId, jsonParam(rules)],
      );
      if (rows.length === 0) throw new RangeError('the automation belongs to another user');
    },

    async recordRequest(entry) {
      await db.query(
        `INSERT INTO egress_requests (execution_id, user_id, host, port, method, status, bytes_sent, bytes_received, duration_ms, outcome, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          entry.executionId === null ? null : requireUuid(entry.executionId, 'executionId'),
          requireUuid(entry.userId, 'userId'),
          entry.host.slice(0, 300),
          entry.port,
          entry.method.slice(0, 20),
          entry.status,
          entry.bytesSent,
          entry.bytesReceived,
          Math.round(entry.durationMs),
          entry.outcome,
          entry.reason === null ? null : entry.reason.slice(0, 1000),
        ],
      );
    },

    async listRequests(executionId, limit = 500) {
      if (!isUuid(executionId)) return [];
      const { rows } = await db.query<RequestRow>(
        `SELECT id, execution_id, user_id, host, port, method, status, bytes_sent, bytes_received, duration_ms, outcome, reason, at
         FROM egress_requests WHERE execution_id = $1 ORDER BY at, id LIMIT $2`,
        [executionId, Math.min(Math.max(1, limit), 1000)],
      );
      return rows.map((row) => ({
        id: row.id,
        executionId: row.execution_id,
        userId: row.user_id,
        host: row.host,
        port: row.port,
        method: row.method,
        status: toNumberOrNull(row.status),
        bytesSent: toNumber(row.bytes_sent),
        bytesReceived: toNumber(row.bytes_received),
        durationMs: row.duration_ms,
        outcome: row.outcome,
        reason: row.reason,
        at: toIso(row.at),
      }));
    },
  };
}
