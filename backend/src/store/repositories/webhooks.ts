import { isUuid, toIso, toIsoOrNull } from '../sql.js';
import type { Queryable, WebhookTarget, WebhookTrigger, WebhookTriggerRepository } from '../types.js';

interface TriggerRow {
  id: string;
  automation_id: string;
  name: string;
  enabled: boolean;
  created_at: Date;
  rotated_at: Date | null;
}

interface TargetRow extends TriggerRow {
  secret: string;
  user_id: string;
  automation_enabled: boolean;
}

const columns = 't.id, t.automation_id, t.name, t.enabled, t.created_at, t.rotated_at';
const ownedBy = 'a.id = t.automation_id AND a.user_id = $1 AND t.automation_id = $2';

function toTrigger(row: TriggerRow): WebhookTrigger {
  return {
    id: row.id,
    automationId: row.automation_id,
    name: row.name,
    enabled: row.enabled,
    createdAt: toIso(row.created_at),
    rotatedAt: toIsoOrNull(row.rotated_at),
  };
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length < 1 || name.length > 200) {
    throw new RangeError('a trigger name has 1 to 200 characters');
  }
  return name;
}

function checkSecret(secret: unknown): string {
  if (typeof secret !== 'string' || secret.length < 16) throw new RangeError('a trigger secret is too short');
  return secret;
}

export function createWebhookTriggerRepository(db: Queryable): WebhookTriggerRepository {
  const ids = (...values: string[]) => values.every(isUuid);

  return {
    async create(userId, automationId, input) {
      if (!ids(userId, automationId)) return null;
      const { rows } = await db.query<TriggerRow>(
        `INSERT INTO webhook_triggers AS t (automation_id, name, secret)
         SELECT a.id, $3, $4 FROM automations a WHERE a.id = $2 AND a.user_id = $1
         RETURNING ${columns}`,
        [userId, automationId, checkName(input.name), checkSecret(input.secret)],
      );
      return rows[0] ? toTrigger(rows[0]) : null;
    },

    async list(userId, automationId) {
      if (!ids(userId, automationId)) return null;
      const found = await db.query('SELECT 1 FROM automations WHERE id = $1 AND user_id = $2', [
        automationId,
        userId,
      ]);
      if (found.rowCount === 0) return null;
      const { rows } = await db.query<TriggerRow>(
        `SELECT ${columns} FROM webhook_triggers t WHERE t.automation_id = $1 ORDER BY t.created_at, t.id`,
        [automationId],
      );
      return rows.map(toTrigger);
    },

    async get(userId, automationId, id) {
      if (!ids(userId, automationId, id)) return null;
      const { rows } = await db.query<TriggerRow>(
        `SELECT ${columns} FROM webhook_triggers t JOIN automations a ON ${ownedBy} WHERE t.id = $3`,
        [userId, automationId, id],
      );
      return rows[0] ? toTrigger(rows[0]) : null;
    },

    async setEnabled(userId, automationId, id, enabled) {
      if (!ids(userId, automationId, id)) return null;
      const { rows } = await db.query<TriggerRow>(
        `UPDATE webhook_triggers t SET enabled = $4 FROM automations a WHERE ${ownedBy} AND t.id = $3
         RETURNING ${columns}`,
        [userId, automationId, id, enabled === true],
      );
      return rows[0] ? toTrigger(rows[0]) : null;
    },

    async rotate(userId, automationId, id, secret) {
      if (!ids(userId, automationId, id)) return null;
      const { rows } = await db.query<TriggerRow>(
        `UPDATE webhook_triggers t SET secret = $4, rotated_at = now() FROM automations a
          WHERE ${ownedBy} AND t.id = $3 RETURNING ${columns}`,
        [userId, automationId, id, checkSecret(secret)],
      );
      return rows[0] ? toTrigger(rows[0]) : null;
    },

    async delete(userId, automationId, id) {
      if (!ids(userId, automationId, id)) return false;
      const { rowCount } = await db.query(
        `DELETE FROM webhook_triggers t USING automations a WHERE ${ownedBy} AND t.id = $3`,
        [userId, automationId, id],
      );
      return rowCount > 0;
    },

    async target(id) {
      if (!isUuid(id)) return null;
      const { rows } = await db.query<TargetRow>(
        `SELECT ${columns}, t.secret, a.user_id, a.enabled AS automation_enabled
           FROM webhook_triggers t JOIN automations a ON a.id = t.automation_id WHERE t.id = $1`,
        [id],
      );
      const row = rows[0];
      if (!row) return null;
      return {
        ...toTrigger(row),
        secret: row.secret,
        userId: row.user_id,
        automationEnabled: row.automation_enabled,
      } satisfies WebhookTarget;
    },

    async rememberSignature(triggerId, signature, expiresAt) {
      if (!isUuid(triggerId)) return false;
      await db.query('DELETE FROM webhook_signatures WHERE trigger_id = $1 AND expires_at < now()', [
        triggerId,
      ]);
      // The primary key decides between two replicas receiving the same delivery at once.
      const { rowCount } = await db.query(
        `INSERT INTO webhook_signatures (trigger_id, signature, expires_at) VALUES ($1, $2, $3::timestamptz)
         ON CONFLICT DO NOTHING`,
        [triggerId, signature, expiresAt.toISOString()],
      );
      return rowCount > 0;
    },
  };
}
