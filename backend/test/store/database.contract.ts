import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConcurrencyLimitError,
  createStore,
  type Database,
  type Execution,
  FileCountExceededError,
  InvalidCursorError,
  InvalidPathError,
  type Message,
  migrate,
  migrations,
  type Page,
  QuotaExceededError,
  type Store,
  schemaStatus,
  type User,
} from '../../src/store/index.js';
import { letTimePass } from '../support/fixed-wait.js';
import { automationContract } from './automations.contract.js';
import { egressContract } from './egress.contract.js';

export interface DatabaseFixture {
  /** A new, empty database (no schema yet). */
  db: Database;
  /**
   * A second, independent connection (pool) to the same database, when the driver allows one.
   * The embedded driver is one connection in one process and has none.
   */
  connectAgain?: () => Promise<Database>;
  /** Closes every connection and removes the database. */
  dispose(): Promise<void>;
}

const allMigrationIds = migrations.map((m) => m.id);

/** Walks every page of a list, checking that each cursor leads on without repeating an item. */
async function collectPages<T extends { id: string }>(
  fetch: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await fetch(cursor);
    pages++;
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
    if (pages > 1000) throw new Error('pagination does not end');
  } while (cursor);
  expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
  return { items, pages };
}

const badCursors = [
  'not a cursor!',
  Buffer.from('{"at":1}').toString('base64url'),
  Buffer.from('["2024-01-01T00:00:00.000Z"]').toString('base64url'),
  Buffer.from('["yesterday","00000000-0000-0000-0000-000000000000"]').toString('base64url'),
  Buffer.from('["2024-01-01T00:00:00.000Z","not-a-uuid"]').toString('base64url'),
  Buffer.from('[-1]').toString('base64url'),
  Buffer.from('not json').toString('base64url'),
];

const unknownId = '00000000-0000-4000-8000-000000000000';

/**
 * Timestamps are kept to the millisecond (PGlite's clock): a test that needs a timestamp to move
 * (a refresh, a touch) waits for the next one. Creation order needs no wait: ids are time-ordered.
 */
const nextMillisecond = () => letTimePass(2);

export function databaseContract(name: string, makeFixture: () => Promise<DatabaseFixture>): void {
  describe(`Database contract: ${name}`, () => {
    describe('migrations', () => {
      let fixture: DatabaseFixture;
      beforeAll(async () => {
        fixture = await makeFixture();
      });
      afterAll(() => fixture?.dispose());

      it('reports every migration pending on an empty database', async () => {
        expect(await schemaStatus(fixture.db)).toEqual({ current: false, pending: allMigrationIds });
      });

      it('applies each migration exactly once when two callers migrate at the same time', async () => {
        const second = fixture.connectAgain ? await fixture.connectAgain() : fixture.db;
        try {
          const [a, b] = await Promise.all([migrate(fixture.db), migrate(second)]);
          expect([...a.applied, ...b.applied]).toEqual(allMigrationIds);
          expect(await schemaStatus(second)).toEqual({ current: true, pending: [] });
        } finally {
          if (second !== fixture.db) await second.close();
        }
        const recorded = await fixture.db.query<{ id: string }>(
          'SELECT id FROM schema_migrations ORDER BY id',
        );
        expect(recorded.rows.map((r) => r.id)).toEqual(allMigrationIds);
      });

      it('is idempotent', async () => {
        expect(await migrate(fixture.db)).toEqual({ applied: [] });
        expect(await schemaStatus(fixture.db)).toEqual({ current: true, pending: [] });
      });

      it('keeps migration ids unique and in order', () => {
        expect([...allMigrationIds].sort()).toEqual(allMigrationIds);
        expect(new Set(allMigrationIds).size).toBe(allMigrationIds.length);
      });
    });

    describe('with the schema', () => {
      let fixture: DatabaseFixture;
      let db: Database;
      let store: Store;
      const newUser = (label = 'user', isAdmin = false): Promise<User> =>
        store.users.create({ name: `${label}-${Math.random().toString(36).slice(2, 8)}`, isAdmin });

      beforeAll(async () => {
        fixture = await makeFixture();
        db = fixture.db;
        await migrate(db);
        store = createStore(db);
      });
      afterAll(() => fixture?.dispose());

      describe('database', () => {
        it('answers ping and plain queries with parameters', async () => {
          await db.ping();
          const result = await db.query<{ sum: number }>('SELECT $1::int + $2::int AS sum', [2, 3]);
          expect(result.rows).toEqual([{ sum: 5 }]);
          expect(result.rowCount).toBe(1);
        });

        it('reports affected rows of writes', async () => {
          const user = await newUser();
          const s1 = await store.sessions.create(user.id, 'a');
          await store.sessions.create(user.id, 'b');
          const result = await db.query('UPDATE sessions SET title = $2 WHERE user_id = $1', [user.id, 'c']);
          expect(result.rowCount).toBe(2);
          expect((await store.sessions.get(user.id, s1.id))?.title).toBe('c');
        });

        it('commits a transaction and returns its value', async () => {
          const user = await newUser();
          const value = await db.transaction(async (tx) => {
            await tx.query('INSERT INTO sessions (user_id, title) VALUES ($1, $2)', [user.id, 'in tx']);
            return 42;
          });
          expect(value).toBe(42);
          expect((await store.sessions.list(user.id)).items.map((s) => s.title)).toEqual(['in tx']);
        });

        it('rolls a transaction back when its work throws, and rethrows', async () => {
          const user = await newUser();
          const failure = new Error('boom');
          await expect(
            db.transaction(async (tx) => {
              await tx.query('INSERT INTO sessions (user_id, title) VALUES ($1, $2)', [user.id, 'lost']);
              throw failure;
            }),
          ).rejects.toBe(failure);
          expect((await store.sessions.list(user.id)).items).toEqual([]);
        });

        it('rolls back when a statement fails, and stays usable', async () => {
          const user = await newUser();
          await expect(
            db.transaction(async (tx) => {
              await tx.query('INSERT INTO sessions (user_id, title) VALUES ($1, $2)', [user.id, 'lost']);
              await tx.query('SELECT * FROM no_such_table');
            }),
          ).rejects.toThrow(/no_such_table/);
          expect((await store.sessions.list(user.id)).items).toEqual([]);
          await db.ping();
        });

        it('refuses a transaction handle used after its transaction ended', async () => {
          let leaked: { query: Database['query'] } | undefined;
          await db.transaction(async (tx) => {
            leaked = tx;
          });
          await expect(leaked!.query('SELECT 1')).rejects.toThrow();
        });

        it('runs concurrent transactions without losing updates', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, '0');
          await Promise.all(
            Array.from({ length: 8 }, () =>
              db.transaction(async (tx) => {
                const { rows } = await tx.query<{ title: string }>(
                  'SELECT title FROM sessions WHERE id = $1 FOR UPDATE',
                  [session.id],
                );
                // Holds the row lock a moment, so the other transactions queue behind it.
                await letTimePass(5);
                await tx.query('UPDATE sessions SET title = $2 WHERE id = $1', [
                  session.id,
                  String(Number(rows[0]!.title) + 1),
                ]);
              }),
            ),
          );
          expect((await store.sessions.get(user.id, session.id))?.title).toBe('8');
        });
      });

      describe('users', () => {
        it('creates and reads users with camelCase fields and ISO timestamps', async () => {
          const admin = await store.users.create({ name: '  Ada  ', isAdmin: true });
          expect(admin).toEqual({
            id: expect.stringMatching(/^[0-9a-f-]{36}$/),
            name: 'Ada',
            isAdmin: true,
            createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          });
          expect(await store.users.get(admin.id)).toEqual(admin);
          expect((await newUser()).isAdmin).toBe(false);
        });

        it('returns null for unknown and malformed ids', async () => {
          expect(await store.users.get(unknownId)).toBeNull();
          expect(await store.users.get('42')).toBeNull();
        });

        it('refuses writes that name a malformed id, before reaching the database', async () => {
          const text = [{ type: 'text' as const, text: 'x' }];
          const input = { language: 'javascript' as const, code: '' };
          const writes: [string, () => Promise<unknown>][] = [
            ['sessions.create', () => store.sessions.create('nope', 't')],
            ['tokens.issue', () => store.tokens.issue('nope', 't')],
            [
              'messages.append',
              () => store.messages.append({ sessionId: 'nope', role: 'user', parts: text }),
            ],
            [
              'messages.append execution',
              () =>
                store.messages.append({ sessionId: unknownId, executionId: 'x', role: 'user', parts: text }),
            ],
            ['executions.create', () => store.executions.create({ userId: 'nope', kind: 'script', input })],
            [
              'executions.create session',
              () => store.executions.create({ userId: unknownId, sessionId: '1', kind: 'script', input }),
            ],
            ['files.put', () => store.files.put('nope', 'uploads/a', Buffer.from('x'), 10)],
            ['audit.record', () => store.audit.record({ actorId: 'nope', action: 'x' })],
          ];
          for (const [label, write] of writes) {
            await expect(write(), label).rejects.toThrow(/not a valid id/);
          }
        });

        it('rejects empty and overlong names', async () => {
          await expect(store.users.create({ name: '   ' })).rejects.toThrow(RangeError);
          await expect(store.users.create({ name: 'x'.repeat(201) })).rejects.toThrow(RangeError);
        });

        it('pages through all users oldest first', async () => {
          const created: User[] = [];
          for (let i = 0; i < 5; i++) {
            created.push(await newUser(`page${i}`));
          }
          const { items, pages } = await collectPages((cursor) => store.users.list({ limit: 2, cursor }));
          expect(pages).toBeGreaterThan(2);
          const ours = items.filter((u) => created.some((c) => c.id === u.id));
          expect(ours).toEqual(created);
          const all = (await store.users.list({ limit: 200 })).items;
          expect(items).toEqual(all);
        });

        it('clamps the page size', async () => {
          for (let i = 0; i < 3; i++) await newUser();
          expect((await store.users.list({ limit: 0 })).items).toHaveLength(1);
          expect((await store.users.list({ limit: 2 })).items).toHaveLength(2);
          expect((await store.users.list({ limit: 2 })).nextCursor).not.toBeNull();
        });

        it('rejects bad cursors with InvalidCursorError', async () => {
          for (const cursor of badCursors) {
            await expect(store.users.list({ cursor }), cursor).rejects.toBeInstanceOf(InvalidCursorError);
          }
        });

        it('moves a user’s sandbox reset generation on, one user at a time', async () => {
          const [user, other] = [await newUser(), await newUser()];
          expect(await store.users.sandboxGeneration(user.id)).toBe(0);
          expect(await store.users.resetSandbox(user.id)).toBe(1);
          expect(await store.users.resetSandbox(user.id)).toBe(2);
          expect(await store.users.sandboxGeneration(user.id)).toBe(2);
          expect(await store.users.sandboxGeneration(other.id)).toBe(0);
          expect(await store.users.resetSandbox(unknownId)).toBeNull();
          expect(await store.users.resetSandbox('42')).toBeNull();
          expect(await store.users.sandboxGeneration('42')).toBe(0);
        });
      });

      describe('tokens', () => {
        it('issues ipa_ tokens and stores only their SHA-256', async () => {
          const user = await newUser();
          const { token, info } = await store.tokens.issue(user.id, 'laptop');
          expect(token).toMatch(/^ipa_[A-Za-z0-9_-]{43}$/);
          expect(info).toEqual({
            id: expect.any(String),
            userId: user.id,
            name: 'laptop',
            prefix: token.slice(0, 8),
            createdAt: expect.any(String),
            lastUsedAt: null,
            revokedAt: null,
            expiresAt: null,
            kind: 'api',
            device: null,
          });
          const { rows } = await db.query<Record<string, unknown>>('SELECT * FROM api_tokens WHERE id = $1', [
            info.id,
          ]);
          expect(rows[0]?.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
          expect(JSON.stringify(rows[0])).not.toContain(token);
        });

        it('authenticates a token to its user and records the last use at most once a minute', async () => {
          const user = await newUser();
          const { token, info } = await store.tokens.issue(user.id, 'cli');
          const auth = await store.tokens.authenticate(token);
          expect(auth).toEqual({ user, tokenId: info.id });
          const firstUse = (await store.tokens.list(user.id))[0]?.lastUsedAt;
          expect(firstUse).toEqual(expect.any(String));
          // A refresh would now show as a later timestamp.
          await nextMillisecond();
          await store.tokens.authenticate(token);
          expect((await store.tokens.list(user.id))[0]?.lastUsedAt).toBe(firstUse);
          await db.query(
            "UPDATE api_tokens SET last_used_at = last_used_at - interval '2 minutes' WHERE id = $1",
            [info.id],
          );
          await store.tokens.authenticate(token);
          const refreshed = (await store.tokens.list(user.id))[0]?.lastUsedAt;
          expect(Date.parse(refreshed!)).toBeGreaterThanOrEqual(Date.parse(firstUse!));
        });

        it('rejects unknown, malformed and revoked tokens', async () => {
          const user = await newUser();
          const { token, info } = await store.tokens.issue(user.id, 'old');
          expect(await store.tokens.authenticate(`${token}x`)).toBeNull();
          expect(await store.tokens.authenticate('')).toBeNull();
          expect(await store.tokens.authenticate('x'.repeat(10_000))).toBeNull();
          expect(await store.tokens.revoke(user.id, info.id)).toBe(true);
          expect(await store.tokens.authenticate(token)).toBeNull();
          const [revoked] = await store.tokens.list(user.id);
          expect(revoked?.revokedAt).toEqual(expect.any(String));
          // Revoking again keeps the first revocation time.
          expect(await store.tokens.revoke(user.id, info.id)).toBe(true);
          expect((await store.tokens.list(user.id))[0]?.revokedAt).toBe(revoked?.revokedAt);
        });

        it('ends an expiring token by itself, and deletes only ended expiring tokens', async () => {
          const user = await newUser();
          const session = await store.tokens.issue(user.id, 'browser', { expiresInSeconds: 3600 });
          const expiresIn = Date.parse(session.info.expiresAt!) - Date.parse(session.info.createdAt);
          expect(expiresIn).toBeGreaterThanOrEqual(3_599_000);
          expect(expiresIn).toBeLessThanOrEqual(3_601_000);
          expect((await store.tokens.authenticate(session.token))?.user.id).toBe(user.id);
          await db.query("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [
            session.info.id,
          ]);
          expect(await store.tokens.authenticate(session.token)).toBeNull();

          const signedOut = await store.tokens.issue(user.id, 'browser 2', { expiresInSeconds: 60 });
          await store.tokens.revoke(user.id, signedOut.info.id);
          const live = await store.tokens.issue(user.id, 'browser 3', { expiresInSeconds: 60 });
          const permanent = await store.tokens.issue(user.id, 'cli');
          const revokedPermanent = await store.tokens.issue(user.id, 'old cli');
          await store.tokens.revoke(user.id, revokedPermanent.info.id);
          const otherUser = await newUser();
          const others = await store.tokens.issue(otherUser.id, 'browser', { expiresInSeconds: 60 });
          await store.tokens.revoke(otherUser.id, others.info.id);

          expect(await store.tokens.deleteEnded(user.id)).toBe(2);
          const kept = (await store.tokens.list(user.id)).map((t) => t.id).sort();
          expect(kept).toEqual([live.info.id, permanent.info.id, revokedPermanent.info.id].sort());
          expect(await store.tokens.list(otherUser.id)).toHaveLength(1);
          expect(await store.tokens.deleteEnded('not-a-uuid')).toBe(0);
          for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
            await expect(store.tokens.issue(user.id, 'x', { expiresInSeconds: bad })).rejects.toBeInstanceOf(
              RangeError,
            );
          }
        });

        it('keeps browser sign-ins apart from API tokens, with the device they came from', async () => {
          const user = await newUser();
          const api = await store.tokens.issue(user.id, 'cli');
          const signin = await store.tokens.issue(user.id, 'browser sign-in', {
            expiresInSeconds: 60,
            kind: 'signin',
            device: `Firefox on Linux${'x'.repeat(300)}`,
          });
          expect(signin.info.kind).toBe('signin');
          expect(signin.info.device).toHaveLength(200);
          expect((await store.tokens.list(user.id, { kind: 'api' })).map((t) => t.id)).toEqual([api.info.id]);
          expect((await store.tokens.list(user.id, { kind: 'signin' })).map((t) => t.id)).toEqual([
            signin.info.id,
          ]);
          expect(await store.tokens.list(user.id)).toHaveLength(2);
          expect((await store.tokens.authenticate(signin.token))?.user.id).toBe(user.id);
          await expect(
            store.tokens.issue(user.id, 'x', { kind: 'other' as unknown as 'api' }),
          ).rejects.toBeInstanceOf(RangeError);
        });

        it("does not let one user revoke or list another user's tokens", async () => {
          const owner = await newUser();
          const other = await newUser();
          const { token, info } = await store.tokens.issue(owner.id, 'mine');
          expect(await store.tokens.revoke(other.id, info.id)).toBe(false);
          expect(await store.tokens.revoke(owner.id, unknownId)).toBe(false);
          expect(await store.tokens.revoke(owner.id, 'nope')).toBe(false);
          expect(await store.tokens.list(other.id)).toEqual([]);
          expect((await store.tokens.authenticate(token))?.user.id).toBe(owner.id);
        });

        it('lists tokens oldest first', async () => {
          const user = await newUser();
          const a = await store.tokens.issue(user.id, 'a');
          const b = await store.tokens.issue(user.id, 'b');
          expect(await store.tokens.list(user.id)).toEqual([a.info, b.info]);
        });

        it('ensures a known token idempotently, and only for one user', async () => {
          const admin = await newUser('admin', true);
          const bootstrap = 'bootstrap-admin-token-0123456789';
          const first = await store.tokens.ensure(admin.id, 'bootstrap', bootstrap);
          const again = await store.tokens.ensure(admin.id, 'bootstrap', bootstrap);
          expect(again).toEqual(first);
          expect(first.prefix).toBe('bootstra');
          expect((await store.tokens.authenticate(bootstrap))?.user).toEqual(admin);
          expect(await store.tokens.list(admin.id)).toHaveLength(1);
          const other = await newUser();
          await expect(store.tokens.ensure(other.id, 'steal', bootstrap)).rejects.toThrow(/another user/);
          await expect(store.tokens.ensure(admin.id, 'short', 'too-short')).rejects.toThrow(RangeError);
        });
      });

      describe('sessions', () => {
        it('creates, reads, renames and lists sessions newest first', async () => {
          const user = await newUser();
          const first = await store.sessions.create(user.id, 'first');
          const second = await store.sessions.create(user.id, 'second');
          expect(first).toEqual({
            id: expect.any(String),
            userId: user.id,
            title: 'first',
            createdAt: expect.any(String),
            updatedAt: first.createdAt,
          });
          expect(await store.sessions.get(user.id, first.id)).toEqual(first);
          const renamed = await store.sessions.rename(user.id, first.id, 'renamed');
          expect(renamed?.title).toBe('renamed');
          expect(Date.parse(renamed!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt));
          const listed = await store.sessions.list(user.id);
          expect(listed.items.map((s) => s.id)).toEqual([second.id, first.id]);
          expect(listed.nextCursor).toBeNull();
        });

        it('pages through many sessions without gaps or repeats', async () => {
          const user = await newUser();
          const ids: string[] = [];
          for (let i = 0; i < 7; i++) {
            ids.push((await store.sessions.create(user.id, `s${i}`)).id);
          }
          const { items, pages } = await collectPages((cursor) =>
            store.sessions.list(user.id, { limit: 3, cursor }),
          );
          expect(pages).toBe(3);
          expect(items.map((s) => s.id)).toEqual(ids.reverse());
        });

        it("hides another user's sessions", async () => {
          const owner = await newUser();
          const other = await newUser();
          const session = await store.sessions.create(owner.id, 'private');
          expect(await store.sessions.get(other.id, session.id)).toBeNull();
          expect(await store.sessions.rename(other.id, session.id, 'taken')).toBeNull();
          expect(await store.sessions.delete(other.id, session.id)).toBe(false);
          expect((await store.sessions.list(other.id)).items).toEqual([]);
          expect((await store.sessions.get(owner.id, session.id))?.title).toBe('private');
        });

        it('returns null or false for unknown and malformed ids', async () => {
          const user = await newUser();
          expect(await store.sessions.get(user.id, unknownId)).toBeNull();
          expect(await store.sessions.get(user.id, '../etc')).toBeNull();
          expect(await store.sessions.rename(user.id, unknownId, 'x')).toBeNull();
          expect(await store.sessions.delete(user.id, 'x')).toBe(false);
        });

        it('deletes a session with its messages and unlinks its executions', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'doomed');
          const execution = await store.executions.create({
            userId: user.id,
            sessionId: session.id,
            kind: 'agent',
            input: { messageId: unknownId, text: 'hi' },
          });
          await store.messages.append({
            sessionId: session.id,
            role: 'user',
            parts: [{ type: 'text', text: 'hi' }],
          });
          expect(await store.sessions.delete(user.id, session.id)).toBe(true);
          expect(await store.sessions.get(user.id, session.id)).toBeNull();
          expect(await store.sessions.delete(user.id, session.id)).toBe(false);
          expect((await store.messages.list(session.id)).items).toEqual([]);
          expect((await store.executions.get(execution.id))?.sessionId).toBeNull();
        });

        it('rejects bad cursors', async () => {
          const user = await newUser();
          for (const cursor of badCursors) {
            await expect(store.sessions.list(user.id, { cursor })).rejects.toBeInstanceOf(InvalidCursorError);
          }
        });
      });

      describe('messages', () => {
        /** `count` messages m0, m1, … alternating user and assistant, in order. */
        const conversation = async (sessionId: string, count: number) => {
          const appended: Message[] = [];
          for (let i = 0; i < count; i++) {
            appended.push(
              await store.messages.append({
                sessionId,
                role: i % 2 === 0 ? 'user' : 'assistant',
                parts: [{ type: 'text', text: `m${i}` }],
              }),
            );
          }
          return appended;
        };

        it('keeps the exact order of a conversation across pages', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'chat');
          const appended = await conversation(session.id, 7);
          const { items, pages } = await collectPages((cursor) =>
            store.messages.list(session.id, { limit: 2, cursor }),
          );
          expect(pages).toBe(4);
          expect(items).toEqual(appended);
        });

        it('gives the newest messages oldest first, up to a given message of the session', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'window');
          const other = await store.sessions.create(user.id, 'other');
          const appended = await conversation(session.id, 6);
          const foreign = await store.messages.append({
            sessionId: other.id,
            role: 'user',
            parts: [{ type: 'text', text: 'elsewhere' }],
          });
          expect(await store.messages.latest(session.id, 3)).toEqual(appended.slice(3));
          expect(await store.messages.latest(session.id, 100)).toEqual(appended);
          expect(await store.messages.latest(session.id, 2, appended[2]!.id)).toEqual(appended.slice(1, 3));
          // A message of another session (or none at all) bounds nothing.
          expect(await store.messages.latest(session.id, 2, foreign.id)).toEqual(appended.slice(4));
          expect(await store.messages.latest(session.id, 2, unknownId)).toEqual(appended.slice(4));
          expect(await store.messages.latest(unknownId, 5)).toEqual([]);
          expect(await store.messages.latest('not-a-uuid', 5)).toEqual([]);
          await expect(store.messages.latest(session.id, 0)).rejects.toBeInstanceOf(RangeError);
        });

        it('stores parts of every kind as given and touches the session', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'tools');
          const execution = await store.executions.create({
            userId: user.id,
            sessionId: session.id,
            kind: 'agent',
            input: { messageId: unknownId, text: 'list files' },
          });
          const parts = [
            { type: 'text' as const, text: 'Let me look. "quotes" \u00e9 \u{1F600}' },
            {
              type: 'tool-call' as const,
              toolCallId: 'c1',
              toolName: 'fs.list',
              input: { path: 'uploads', deep: [1, null, { x: true }] },
            },
            {
              type: 'tool-result' as const,
              toolCallId: 'c1',
              toolName: 'fs.list',
              output: ['a.csv'],
              isError: false,
            },
          ];
          // Touching the session then shows as a later timestamp.
          await nextMillisecond();
          const message = await store.messages.append({
            sessionId: session.id,
            executionId: execution.id,
            role: 'assistant',
            parts,
          });
          expect(message).toEqual({
            id: expect.any(String),
            sessionId: session.id,
            executionId: execution.id,
            role: 'assistant',
            parts,
            createdAt: expect.any(String),
          });
          const touched = await store.sessions.get(user.id, session.id);
          expect(Date.parse(touched!.updatedAt)).toBeGreaterThan(Date.parse(session.updatedAt));
        });

        it('rejects messages for unknown sessions and bad roles', async () => {
          await expect(
            store.messages.append({
              sessionId: unknownId,
              role: 'user',
              parts: [{ type: 'text', text: 'x' }],
            }),
          ).rejects.toThrow();
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'x');
          await expect(
            store.messages.append({ sessionId: session.id, role: 'system' as 'user', parts: [] }),
          ).rejects.toThrow(RangeError);
        });

        it('deletes what one execution stored, only in the given roles', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'rerun');
          const exec = await store.executions.create({
            userId: user.id,
            sessionId: session.id,
            kind: 'agent',
            input: { messageId: unknownId, text: 'go' },
          });
          const otherExec = await store.executions.create({
            userId: user.id,
            sessionId: session.id,
            kind: 'agent',
            input: { messageId: unknownId, text: 'go' },
          });
          const text = (t: string) => [{ type: 'text' as const, text: t }];
          await store.messages.append({
            sessionId: session.id,
            executionId: exec.id,
            role: 'user',
            parts: text('q'),
          });
          await store.messages.append({
            sessionId: session.id,
            executionId: exec.id,
            role: 'assistant',
            parts: text('a1'),
          });
          await store.messages.append({
            sessionId: session.id,
            executionId: exec.id,
            role: 'tool',
            parts: text('t'),
          });
          await store.messages.append({
            sessionId: session.id,
            executionId: otherExec.id,
            role: 'assistant',
            parts: text('keep'),
          });
          expect(await store.messages.deleteByExecution(exec.id, [])).toBe(0);
          expect(await store.messages.deleteByExecution(exec.id, ['assistant', 'tool'])).toBe(2);
          expect(await store.messages.deleteByExecution(exec.id, ['assistant', 'tool'])).toBe(0);
          expect(await store.messages.deleteByExecution('bad', ['assistant'])).toBe(0);
          const left = (await store.messages.list(session.id)).items;
          expect(left.map((m) => m.parts[0])).toEqual([
            { type: 'text', text: 'q' },
            { type: 'text', text: 'keep' },
          ]);
        });

        it('rejects bad cursors', async () => {
          for (const cursor of [...badCursors, Buffer.from('["1"]').toString('base64url')]) {
            await expect(store.messages.list(unknownId, { cursor })).rejects.toBeInstanceOf(
              InvalidCursorError,
            );
          }
        });
      });

      describe('executions', () => {
        const script = { language: 'javascript' as const, code: 'console.log(1)', input: { n: 1 } };

        it('creates queued executions and reads them back', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          expect(execution).toEqual({
            id: expect.any(String),
            userId: user.id,
            sessionId: null,
            kind: 'script',
            status: 'queued',
            input: script,
            result: null,
            error: null,
            usage: null,
            attempt: 0,
            workerId: null,
            cancelRequested: false,
            createdAt: expect.any(String),
            startedAt: null,
            finishedAt: null,
            durationMs: null,
            automationId: null,
            automationVersion: null,
            trigger: null,
            triggerId: null,
            scheduledFor: null,
          } satisfies Execution);
          expect(await store.executions.get(execution.id)).toEqual(execution);
          expect(await store.executions.get(execution.id, user.id)).toEqual(execution);
        });

        it("hides another user's executions", async () => {
          const owner = await newUser();
          const other = await newUser();
          const execution = await store.executions.create({
            userId: owner.id,
            kind: 'script',
            input: script,
          });
          expect(await store.executions.get(execution.id, other.id)).toBeNull();
          expect(await store.executions.requestCancel(execution.id, other.id)).toBeNull();
          expect((await store.executions.list(other.id)).items).toEqual([]);
          expect((await store.executions.get(execution.id))?.cancelRequested).toBe(false);
          expect(await store.executions.get('bad-id')).toBeNull();
          expect(await store.executions.get(unknownId)).toBeNull();
        });

        it("refuses to attach an execution to another user's session", async () => {
          const owner = await newUser();
          const other = await newUser();
          const session = await store.sessions.create(owner.id, 'mine');
          const input = { messageId: unknownId, text: 'hi' };
          await expect(
            store.executions.create({ userId: other.id, sessionId: session.id, kind: 'agent', input }),
          ).rejects.toThrow(/session/);
          await expect(
            store.executions.create({ userId: owner.id, sessionId: unknownId, kind: 'agent', input }),
          ).rejects.toThrow(/session/);
          expect((await store.executions.list(other.id)).items).toEqual([]);
          const linked = await store.executions.create({
            userId: owner.id,
            sessionId: session.id,
            kind: 'agent',
            input,
          });
          expect(linked.sessionId).toBe(session.id);
        });

        it('runs through its life once: running, finished, never again', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          const running = await store.executions.markRunning(execution.id, 'worker-a', 1);
          expect(running).toMatchObject({ status: 'running', attempt: 1, workerId: 'worker-a' });
          expect(running?.startedAt).toEqual(expect.any(String));
          // A re-delivery to another worker takes over, keeping the first start time.
          const retried = await store.executions.markRunning(execution.id, 'worker-b', 2);
          expect(retried).toMatchObject({ status: 'running', attempt: 2, workerId: 'worker-b' });
          expect(retried?.startedAt).toBe(running?.startedAt);
          // A measurable duration between the start and the finish.
          await letTimePass(15);
          const outcome = {
            status: 'succeeded' as const,
            result: { answer: [42] },
            usage: { inputTokens: 10, outputTokens: 5 },
          };
          expect(await store.executions.finish(execution.id, outcome)).toBe(true);
          const done = await store.executions.get(execution.id);
          expect(done).toMatchObject({ ...outcome, error: null });
          expect(done?.durationMs).toBeGreaterThanOrEqual(10);
          expect(Date.parse(done!.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done!.startedAt!));
          // Double finish and late starts change nothing.
          expect(
            await store.executions.finish(execution.id, {
              status: 'failed',
              error: { code: 'late', message: 'too late' },
            }),
          ).toBe(false);
          expect(await store.executions.markRunning(execution.id, 'worker-c', 3)).toBeNull();
          expect(await store.executions.get(execution.id)).toEqual(done);
        });

        it('finishes a queued execution (cancelled before it ran) without a duration', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          const flagged = await store.executions.requestCancel(execution.id, user.id);
          expect(flagged).toMatchObject({ status: 'queued', cancelRequested: true });
          expect(await store.executions.finish(execution.id, { status: 'cancelled' })).toBe(true);
          const done = await store.executions.get(execution.id);
          expect(done).toMatchObject({
            status: 'cancelled',
            startedAt: null,
            durationMs: null,
            result: null,
          });
          expect(done?.finishedAt).toEqual(expect.any(String));
        });

        it('stores errors of failed executions and leaves finished ones alone on cancel', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          await store.executions.markRunning(execution.id, 'w', 1);
          const error = { code: 'sandbox_crashed', message: 'the sandbox died' };
          expect(await store.executions.finish(execution.id, { status: 'timed_out', error })).toBe(true);
          const cancel = await store.executions.requestCancel(execution.id, user.id);
          expect(cancel).toMatchObject({ status: 'timed_out', error, cancelRequested: false });
        });

        it('refuses non-terminal outcomes and bad attempts', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          await expect(
            store.executions.finish(execution.id, { status: 'running' as 'failed' }),
          ).rejects.toThrow(RangeError);
          await expect(store.executions.markRunning(execution.id, 'w', -1)).rejects.toThrow(RangeError);
          expect(await store.executions.finish('nope', { status: 'failed' })).toBe(false);
          expect(await store.executions.markRunning(unknownId, 'w', 1)).toBeNull();
        });

        it('counts active executions per user', async () => {
          const user = await newUser();
          expect(await store.executions.countActive(user.id)).toBe(0);
          const a = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          const b = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          await store.executions.create({ userId: (await newUser()).id, kind: 'script', input: script });
          await store.executions.markRunning(a.id, 'w', 1);
          expect(await store.executions.countActive(user.id)).toBe(2);
          await store.executions.finish(b.id, { status: 'cancelled' });
          expect(await store.executions.countActive(user.id)).toBe(1);
        });

        it('admits an execution only under the limit, counting queued and running ones, writing nothing on refusal', async () => {
          const user = await newUser();
          const other = await newUser();
          const admit = () =>
            store.executions.create({ userId: user.id, kind: 'script', input: script }, { maxActive: 2 });
          const a = await admit();
          const b = await admit();
          await store.executions.markRunning(a.id, 'w', 1);
          const refused = await admit().catch((error: unknown) => error);
          expect(refused).toBeInstanceOf(ConcurrencyLimitError);
          expect(refused).toMatchObject({ active: 2, limit: 2 });
          expect((await store.executions.list(user.id)).items).toHaveLength(2);
          // Another user's executions take none of this user's slots.
          await store.executions.create(
            { userId: other.id, kind: 'script', input: script },
            { maxActive: 1 },
          );
          await store.executions.finish(b.id, { status: 'cancelled' });
          expect((await admit()).status).toBe('queued');
          await expect(
            store.executions.create({ userId: user.id, kind: 'script', input: script }, { maxActive: 0 }),
          ).rejects.toThrow(RangeError);
        });

        it('admits inside a caller’s transaction and rolls back with it', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 'chat');
          await expect(
            store.transaction(async (tx) => {
              const message = await tx.messages.append({
                sessionId: session.id,
                role: 'user',
                parts: [{ type: 'text', text: 'hi' }],
              });
              await tx.executions.create(
                {
                  userId: user.id,
                  sessionId: session.id,
                  kind: 'agent',
                  input: { messageId: message.id, text: 'hi' },
                },
                { maxActive: 1 },
              );
              await tx.executions.create(
                {
                  userId: user.id,
                  sessionId: session.id,
                  kind: 'agent',
                  input: { messageId: message.id, text: 'hi' },
                },
                { maxActive: 1 },
              );
            }),
          ).rejects.toBeInstanceOf(ConcurrencyLimitError);
          expect((await store.messages.list(session.id)).items).toEqual([]);
          expect(await store.executions.countActive(user.id)).toBe(0);
        });

        it('never admits past the limit when admissions race on two connections (pools)', async () => {
          const second = fixture.connectAgain ? createStore(await fixture.connectAgain()) : store;
          try {
            const user = await newUser();
            const limit = 3;
            const results = await Promise.allSettled(
              Array.from({ length: 24 }, (_, i) =>
                (i % 2 === 0 ? store : second).executions.create(
                  { userId: user.id, kind: 'script', input: script },
                  { maxActive: limit },
                ),
              ),
            );
            const admitted = results.filter((r) => r.status === 'fulfilled');
            const refused = results.filter((r) => r.status === 'rejected');
            expect(admitted).toHaveLength(limit);
            for (const r of refused) expect(r.reason).toBeInstanceOf(ConcurrencyLimitError);
            expect(await store.executions.countActive(user.id)).toBe(limit);
          } finally {
            if (second !== store) await second.db.close();
          }
        });

        it('pages unfinished executions oldest first, from a given age, across pages', async () => {
          const user = await newUser();
          const made: Execution[] = [];
          for (let i = 0; i < 3; i++) {
            made.push(await store.executions.create({ userId: user.id, kind: 'script', input: script }));
          }
          await store.executions.markRunning(made[1]!.id, 'w', 1);
          const done = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          await store.executions.finish(done.id, { status: 'succeeded' });
          const mine = new Set(made.map((e) => e.id));
          const { items } = await collectPages(async (cursor) => {
            const page = await store.executions.unfinished({ olderThanMs: 0, limit: 1, cursor });
            return { ...page, items: page.items.filter((e) => mine.has(e.id) || e.id === done.id) };
          });
          expect(items.map((e) => [e.id, e.status])).toEqual([
            [made[0]!.id, 'queued'],
            [made[1]!.id, 'running'],
            [made[2]!.id, 'queued'],
          ]);
          expect(items[0]).toEqual({
            id: made[0]!.id,
            userId: user.id,
            kind: 'script',
            status: 'queued',
            createdAt: made[0]!.createdAt,
          });
          // Rows younger than the age are left for their API to enqueue.
          const young = await store.executions.unfinished({ olderThanMs: 60_000, limit: 200 });
          expect(young.items.filter((e) => mine.has(e.id))).toEqual([]);
          await expect(store.executions.unfinished({ olderThanMs: -1 })).rejects.toThrow(RangeError);
          for (const cursor of badCursors) {
            await expect(store.executions.unfinished({ olderThanMs: 0, cursor })).rejects.toBeInstanceOf(
              InvalidCursorError,
            );
          }
        });

        it('lets one transaction at a time claim an execution for recovery', async () => {
          const user = await newUser();
          const execution = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          expect(await store.executions.claimRecovery('bad')).toBe(false);
          const second = fixture.connectAgain ? createStore(await fixture.connectAgain()) : undefined;
          try {
            await store.transaction(async (tx) => {
              expect(await tx.executions.claimRecovery(execution.id)).toBe(true);
              if (second) {
                expect(await second.transaction((tx2) => tx2.executions.claimRecovery(execution.id))).toBe(
                  false,
                );
              }
            });
            // Released with its transaction.
            expect(
              await (second ?? store).transaction((tx) => tx.executions.claimRecovery(execution.id)),
            ).toBe(true);
          } finally {
            await second?.db.close();
          }
        });

        it('reads which of several executions have a cancel request', async () => {
          const user = await newUser();
          const a = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          const b = await store.executions.create({ userId: user.id, kind: 'script', input: script });
          await store.executions.requestCancel(b.id, user.id);
          expect(await store.executions.cancelRequestedAmong([a.id, b.id, unknownId, 'bad'])).toEqual([b.id]);
          expect(await store.executions.cancelRequestedAmong([])).toEqual([]);
        });

        it('lists newest first with filters and pages', async () => {
          const user = await newUser();
          const session = await store.sessions.create(user.id, 's');
          const created: Execution[] = [];
          for (let i = 0; i < 5; i++) {
            created.push(
              await store.executions.create({
                userId: user.id,
                kind: i % 2 === 0 ? 'script' : 'agent',
                sessionId: i % 2 === 0 ? null : session.id,
                input: i % 2 === 0 ? script : { messageId: unknownId, text: `t${i}` },
              }),
            );
          }
          await store.executions.finish(created[0]!.id, { status: 'failed' });
          const { items } = await collectPages((cursor) =>
            store.executions.list(user.id, { limit: 2, cursor }),
          );
          expect(items.map((e) => e.id)).toEqual(created.map((e) => e.id).reverse());
          const agents = await store.executions.list(user.id, { kind: 'agent' });
          expect(agents.items.map((e) => e.id)).toEqual([created[3]!.id, created[1]!.id]);
          const inSession = await store.executions.list(user.id, { sessionId: session.id, limit: 1 });
          expect(inSession.items.map((e) => e.id)).toEqual([created[3]!.id]);
          const rest = await store.executions.list(user.id, {
            sessionId: session.id,
            cursor: inSession.nextCursor!,
          });
          expect(rest.items.map((e) => e.id)).toEqual([created[1]!.id]);
          expect(rest.nextCursor).toBeNull();
          const failed = await store.executions.list(user.id, { status: 'failed' });
          expect(failed.items.map((e) => e.id)).toEqual([created[0]!.id]);
          const queuedScripts = await store.executions.list(user.id, { status: 'queued', kind: 'script' });
          expect(queuedScripts.items.map((e) => e.id)).toEqual([created[4]!.id, created[2]!.id]);
          expect((await store.executions.list(user.id, { sessionId: 'bad' })).items).toEqual([]);
          for (const cursor of badCursors) {
            await expect(store.executions.list(user.id, { cursor })).rejects.toBeInstanceOf(
              InvalidCursorError,
            );
          }
        });

        it('reports platform counts by status and finished executions per minute', async () => {
          const before = await store.executions.stats(5);
          expect(before.perMinute).toHaveLength(5);
          expect(Object.keys(before.byStatus).sort()).toEqual(
            ['cancelled', 'failed', 'queued', 'running', 'skipped', 'succeeded', 'timed_out'].sort(),
          );
          const user = await newUser();
          const make = () => store.executions.create({ userId: user.id, kind: 'script', input: script });
          const ok = await make();
          const bad = await make();
          const slow = await make();
          const stop = await make();
          await make();
          await db.query(
            "UPDATE executions SET created_at = clock_timestamp() - interval '3 seconds', started_at = clock_timestamp() - interval '2 seconds' WHERE id = $1",
            [ok.id],
          );
          await store.executions.finish(ok.id, { status: 'succeeded' });
          await store.executions.finish(bad.id, { status: 'failed' });
          await store.executions.finish(slow.id, { status: 'timed_out' });
          await store.executions.finish(stop.id, { status: 'cancelled' });
          const after = await store.executions.stats(5);
          expect(after.byStatus.queued - before.byStatus.queued).toBe(1);
          expect(after.byStatus.succeeded - before.byStatus.succeeded).toBe(1);
          expect(after.byStatus.failed - before.byStatus.failed).toBe(1);
          expect(after.byStatus.timed_out - before.byStatus.timed_out).toBe(1);
          expect(after.byStatus.cancelled - before.byStatus.cancelled).toBe(1);
          const sum = (stats: typeof after, key: 'succeeded' | 'failed') =>
            stats.perMinute.reduce((total, m) => total + m[key], 0);
          // The window may slide by a minute between the two calls; the newest minute holds ours.
          expect(sum(after, 'succeeded')).toBeGreaterThanOrEqual(1);
          expect(sum(after, 'failed')).toBeGreaterThanOrEqual(2);
          const minutes = after.perMinute.map((m) => Date.parse(m.minute));
          for (let i = 1; i < minutes.length; i++) expect(minutes[i]! - minutes[i - 1]!).toBe(60_000);
          expect(after.perMinute.at(-1)!.succeeded).toBeGreaterThanOrEqual(1);
          // Latency and queue wait of the minute: our run waited ~1 s and ran ~2 s (the other
          // runs of this minute never started, so they have neither).
          const latest = after.perMinute.at(-1)!;
          expect(latest.p95DurationMs).toBeGreaterThan(0);
          expect(latest.p95QueueWaitMs).toBeGreaterThan(0);
          expect(before.perMinute.some((m) => m.succeeded + m.failed === 0 && m.p95DurationMs === null)).toBe(
            before.perMinute.some((m) => m.succeeded + m.failed === 0),
          );
          expect((await store.executions.stats(0)).perMinute).toHaveLength(1);
        });
      });

      describe('files', () => {
        const quota = 1000;
        const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

        it('stores, reads, lists and deletes files', async () => {
          const user = await newUser();
          const content = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
          const stored = await store.files.put(user.id, 'uploads/data.bin', content, quota);
          expect(stored).toEqual({
            userId: user.id,
            path: 'uploads/data.bin',
            size: 256,
            sha256: createHash('sha256').update(content).digest('hex'),
            updatedAt: expect.any(String),
          });
          const read = await store.files.get(user.id, 'uploads/data.bin');
          expect(read?.content.equals(content)).toBe(true);
          expect(Buffer.isBuffer(read?.content)).toBe(true);
          const { content: _, ...meta } = read!;
          expect(meta).toEqual(stored);
          expect(await store.files.usage(user.id)).toBe(256);
          expect(await store.files.delete(user.id, 'uploads/data.bin')).toBe(true);
          expect(await store.files.delete(user.id, 'uploads/data.bin')).toBe(false);
          expect(await store.files.get(user.id, 'uploads/data.bin')).toBeNull();
          expect(await store.files.usage(user.id)).toBe(0);
        });

        it('opens a file as a stream, whole or a range the caller picks from its metadata', async () => {
          const user = await newUser();
          const content = Buffer.from('0123456789');
          await store.files.put(user.id, 'outputs/stream.txt', content, quota);
          const read = async (stream: NodeJS.ReadableStream) => {
            const chunks: Buffer[] = [];
            for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
            return Buffer.concat(chunks).toString();
          };
          const whole = await store.files.open(user.id, 'outputs/stream.txt');
          expect(whole).toMatchObject({ path: 'outputs/stream.txt', size: 10, range: undefined });
          expect(await read(whole!.content)).toBe('0123456789');
          const part = await store.files.open(user.id, 'outputs/stream.txt', (file) => ({
            start: file.size - 3,
            end: file.size - 1,
          }));
          expect(part?.range).toEqual({ start: 7, end: 9 });
          expect(await read(part!.content)).toBe('789');
          await expect(
            store.files.open(user.id, 'outputs/stream.txt', () => ({ start: 5, end: 10 })),
          ).rejects.toThrow(RangeError);
          expect(await store.files.open(user.id, 'outputs/none.txt')).toBeNull();
          expect(await store.files.open(unknownId, 'outputs/stream.txt')).toBeNull();
        });

        it('stores empty files', async () => {
          const user = await newUser();
          await store.files.put(user.id, 'workspace/empty', Buffer.alloc(0), quota);
          expect((await store.files.get(user.id, 'workspace/empty'))?.content.length).toBe(0);
        });

        it('normalises paths and refuses bad ones', async () => {
          const user = await newUser();
          const stored = await store.files.put(user.id, 'workspace//notes/a.txt', bytes(3), quota);
          expect(stored.path).toBe('workspace/notes/a.txt');
          expect((await store.files.get(user.id, 'workspace/notes/a.txt'))?.size).toBe(3);
          for (const bad of ['../secret', '/etc/passwd', 'uploads/../x', 'tmp/a', 'uploads', 'uploads\\a']) {
            await expect(store.files.put(user.id, bad, bytes(1), quota), bad).rejects.toBeInstanceOf(
              InvalidPathError,
            );
            await expect(store.files.get(user.id, bad), bad).rejects.toBeInstanceOf(InvalidPathError);
          }
          await expect(store.files.list(user.id, '../')).rejects.toBeInstanceOf(InvalidPathError);
        });

        it('lists by folder in byte order', async () => {
          const user = await newUser();
          for (const path of [
            'workspace/b.txt',
            'workspace/a/z.txt',
            'workspace/ab/c.txt',
            'workspace/a/y.txt',
            'outputs/r.csv',
            'workspace/A.txt',
          ]) {
            await store.files.put(user.id, path, bytes(1), quota);
          }
          const paths = async (prefix?: string) =>
            (await store.files.list(user.id, prefix)).map((f) => f.path);
          expect(await paths()).toEqual([
            'outputs/r.csv',
            'workspace/A.txt',
            'workspace/a/y.txt',
            'workspace/a/z.txt',
            'workspace/ab/c.txt',
            'workspace/b.txt',
          ]);
          expect(await paths('')).toHaveLength(6);
          expect(await paths('workspace/a')).toEqual(['workspace/a/y.txt', 'workspace/a/z.txt']);
          expect(await paths('workspace/a/')).toEqual(['workspace/a/y.txt', 'workspace/a/z.txt']);
          expect(await paths('outputs')).toEqual(['outputs/r.csv']);
          expect(await paths('uploads/')).toEqual([]);
          const listed = await store.files.list(user.id, 'outputs');
          expect(listed[0]).not.toHaveProperty('content');
        });

        it('keeps the quota: a refused write leaves the old file intact', async () => {
          const user = await newUser();
          await store.files.put(user.id, 'uploads/a', bytes(600, 1), quota);
          const refused = await store.files
            .put(user.id, 'uploads/b', bytes(500), quota)
            .catch((e: unknown) => e);
          expect(refused).toBeInstanceOf(QuotaExceededError);
          expect(refused).toMatchObject({ usedBytes: 600, quotaBytes: quota, requestedBytes: 500 });
          expect(await store.files.get(user.id, 'uploads/b')).toBeNull();
          // Replacing counts only the difference: 600 → 900 fits in 1000.
          await store.files.put(user.id, 'uploads/a', bytes(900, 2), quota);
          expect(await store.files.usage(user.id)).toBe(900);
          await expect(store.files.put(user.id, 'uploads/a', bytes(1001, 3), quota)).rejects.toBeInstanceOf(
            QuotaExceededError,
          );
          const kept = await store.files.get(user.id, 'uploads/a');
          expect(kept?.content.equals(bytes(900, 2))).toBe(true);
          // Shrinking is always allowed, even above a lowered quota.
          await store.files.put(user.id, 'uploads/a', bytes(100, 4), 50);
          expect(await store.files.usage(user.id)).toBe(100);
          await store.files.put(user.id, 'uploads/c', bytes(900), quota);
          expect(await store.files.usage(user.id)).toBe(quota);
        });

        it('keeps the file-count quota in put and apply; replacing or deleting is always allowed', async () => {
          const user = await newUser();
          await store.files.put(user.id, 'uploads/a', bytes(1), quota, 2);
          await store.files.put(user.id, 'uploads/b', bytes(1), quota, 2);
          const refused = await store.files
            .put(user.id, 'uploads/c', bytes(1), quota, 2)
            .catch((e: unknown) => e);
          expect(refused).toBeInstanceOf(FileCountExceededError);
          expect(refused).toBeInstanceOf(QuotaExceededError);
          expect(refused).toMatchObject({ usedFiles: 3, quotaFiles: 2 });
          // Replacing an existing file does not add one.
          await store.files.put(user.id, 'uploads/a', bytes(2), quota, 2);
          await expect(
            store.files.apply(
              user.id,
              { writes: [{ path: 'outputs/x', content: bytes(1) }], deletes: [] },
              quota,
              2,
            ),
          ).rejects.toBeInstanceOf(FileCountExceededError);
          // A change that deletes one and writes one stays at two.
          await store.files.apply(
            user.id,
            { writes: [{ path: 'outputs/x', content: bytes(1) }], deletes: ['uploads/b'] },
            quota,
            2,
          );
          expect((await store.files.list(user.id)).map((f) => f.path)).toEqual(['outputs/x', 'uploads/a']);
        });

        it('keeps the quota when writes of one user race', async () => {
          const user = await newUser();
          const results = await Promise.allSettled(
            Array.from({ length: 6 }, (_, i) => store.files.put(user.id, `uploads/f${i}`, bytes(300), quota)),
          );
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
          for (const r of results) {
            if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(QuotaExceededError);
          }
          expect(await store.files.usage(user.id)).toBe(900);
        });

        it('applies several writes and deletes as one change, or none of it over the quota', async () => {
          const user = await newUser();
          await store.files.put(user.id, 'uploads/keep.txt', bytes(100), quota);
          await store.files.put(user.id, 'workspace/old.txt', bytes(300), quota);
          await store.files.apply(
            user.id,
            {
              writes: [
                { path: 'outputs//report.txt', content: bytes(400, 2) },
                { path: 'uploads/keep.txt', content: bytes(50, 3) },
              ],
              deletes: ['workspace/old.txt', 'workspace/never-there.txt'],
            },
            quota,
          );
          const listed = async () => (await store.files.list(user.id)).map((f) => `${f.path} ${f.size}`);
          expect(await listed()).toEqual(['outputs/report.txt 400', 'uploads/keep.txt 50']);

          // 450 → 1,050 passes the quota: nothing of the change is stored, not even the delete.
          const refused = await store.files
            .apply(
              user.id,
              {
                writes: [{ path: 'outputs/big.bin', content: bytes(700) }],
                deletes: ['outputs/report.txt'],
              },
              600,
            )
            .catch((e: unknown) => e);
          expect(refused).toMatchObject({ usedBytes: 450, quotaBytes: 600, requestedBytes: 300 });
          expect(refused).toBeInstanceOf(QuotaExceededError);
          expect(await listed()).toEqual(['outputs/report.txt 400', 'uploads/keep.txt 50']);
          // Shrinking is allowed above a lowered quota; a bad path refuses the whole change.
          await store.files.apply(user.id, { writes: [], deletes: ['outputs/report.txt'] }, 10);
          await expect(
            store.files.apply(
              user.id,
              { writes: [{ path: '../escape', content: bytes(1) }], deletes: ['uploads/keep.txt'] },
              quota,
            ),
          ).rejects.toBeInstanceOf(InvalidPathError);
          expect(await listed()).toEqual(['uploads/keep.txt 50']);
        });

        it('keeps a concurrent change: a write whose base moved on goes beside it, a delete is dropped', async () => {
          const user = await newUser();
          const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
          const [v1, theirs, ours] = [bytes(10, 1), bytes(11, 2), bytes(12, 3)];
          for (const path of ['workspace/log.txt', 'workspace/gone.txt', 'workspace/mine.txt'])
            await store.files.put(user.id, path, v1, quota);
          // Someone else changes two of the files after our change started from v1 of each.
          await store.files.put(user.id, 'workspace/log.txt', theirs, quota);
          await store.files.put(user.id, 'workspace/gone.txt', theirs, quota);
          await store.files.put(user.id, 'outputs/new.txt', theirs, quota);
          const result = await store.files.apply(
            user.id,
            {
              writes: [
                { path: 'workspace/log.txt', content: ours },
                { path: 'workspace/mine.txt', content: ours },
                { path: 'outputs/new.txt', content: ours },
                { path: 'outputs/same.txt', content: ours },
              ],
              deletes: ['workspace/gone.txt'],
              bases: new Map([
                ['workspace/log.txt', sha(v1)],
                ['workspace/mine.txt', sha(v1)],
                ['outputs/new.txt', null],
                ['outputs/same.txt', null],
                ['workspace/gone.txt', sha(v1)],
              ]),
              conflictTag: 'abcd1234',
            },
            quota,
          );
          expect(result.conflicts).toEqual([
            { path: 'workspace/log.txt', keptAs: 'workspace/log (conflict abcd1234).txt' },
            { path: 'outputs/new.txt', keptAs: 'outputs/new (conflict abcd1234).txt' },
            { path: 'workspace/gone.txt', keptAs: null },
          ]);
          const content = async (path: string) => (await store.files.get(user.id, path))?.content;
          expect(await content('workspace/log.txt')).toEqual(theirs);
          expect(await content('workspace/log (conflict abcd1234).txt')).toEqual(ours);
          expect(await content('outputs/new.txt')).toEqual(theirs);
          expect(await content('outputs/new (conflict abcd1234).txt')).toEqual(ours);
          expect(await content('workspace/gone.txt')).toEqual(theirs);
          expect(await content('workspace/mine.txt')).toEqual(ours);
          expect(await content('outputs/same.txt')).toEqual(ours);
          // Writing what is already stored is no conflict, whatever the base.
          const again = await store.files.apply(
            user.id,
            {
              writes: [{ path: 'workspace/log.txt', content: theirs }],
              deletes: [],
              bases: new Map([['workspace/log.txt', sha(v1)]]),
            },
            quota,
          );
          expect(again.conflicts).toEqual([]);
          // A second copy with the same tag takes the next free name; the first stays as it was.
          const other = Buffer.from('another attempt');
          const second = await store.files.apply(
            user.id,
            {
              writes: [{ path: 'workspace/log.txt', content: other }],
              deletes: [],
              bases: new Map([['workspace/log.txt', sha(v1)]]),
              conflictTag: 'abcd1234',
            },
            quota,
          );
          expect(second.conflicts).toEqual([
            { path: 'workspace/log.txt', keptAs: 'workspace/log (conflict abcd1234-2).txt' },
          ]);
          expect(await content('workspace/log (conflict abcd1234).txt')).toEqual(ours);
          expect(await content('workspace/log (conflict abcd1234-2).txt')).toEqual(other);
        });

        it('stores files and an execution row in one transaction: both land or neither does', async () => {
          const user = await newUser();
          const execution = await store.executions.create({
            userId: user.id,
            kind: 'script',
            input: { language: 'javascript', code: '' },
          });
          await store.executions.markRunning(execution.id, 'worker-1', 1);
          const change = { writes: [{ path: 'outputs/marker.txt', content: bytes(5) }], deletes: [] };
          const crash = new Error('worker died before the commit');
          await expect(
            store.transaction(async (tx) => {
              await tx.files.apply(user.id, change, quota);
              expect(await tx.executions.finish(execution.id, { status: 'succeeded' })).toBe(true);
              throw crash;
            }),
          ).rejects.toBe(crash);
          expect(await store.files.get(user.id, 'outputs/marker.txt')).toBeNull();
          expect((await store.executions.get(execution.id))?.status).toBe('running');

          await store.transaction(async (tx) => {
            await tx.files.apply(user.id, change, quota);
            await tx.executions.finish(execution.id, { status: 'succeeded' });
          });
          expect((await store.files.get(user.id, 'outputs/marker.txt'))?.size).toBe(5);
          expect((await store.executions.get(execution.id))?.status).toBe('succeeded');
        });

        it("keeps users' files apart", async () => {
          const owner = await newUser();
          const other = await newUser();
          await store.files.put(owner.id, 'uploads/secret.txt', Buffer.from('mine'), quota);
          await store.files.put(other.id, 'uploads/secret.txt', Buffer.from('theirs!'), quota);
          expect((await store.files.get(owner.id, 'uploads/secret.txt'))?.content.toString()).toBe('mine');
          expect(await store.files.usage(owner.id)).toBe(4);
          expect(await store.files.delete(other.id, 'uploads/secret.txt')).toBe(true);
          expect(await store.files.get(other.id, 'uploads/secret.txt')).toBeNull();
          expect((await store.files.get(owner.id, 'uploads/secret.txt'))?.content.toString()).toBe('mine');
          expect(await store.files.list(other.id)).toEqual([]);
          expect(await store.files.get('bad', 'uploads/secret.txt')).toBeNull();
          expect(await store.files.usage('bad')).toBe(0);
        });
      });

      describe('egress', () => {
        egressContract(() => store, newUser);
      });
      automationContract(() => ({ store, db, newUser }));

      describe('time-ordered ids', () => {
        // Many rows in one millisecond: their timestamps tie, so the id alone gives the order.
        const burst = 25;

        it('are UUIDv7, distinct, and increase in the order rows are written', async () => {
          const user = await newUser();
          const ids: string[] = [];
          for (let i = 0; i < burst; i++) ids.push((await store.sessions.create(user.id, `s${i}`)).id);
          for (const id of ids)
            expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          expect(new Set(ids).size).toBe(burst);
          expect([...ids].sort()).toEqual(ids);
        });

        it('list rows written in one millisecond in the order they were written', async () => {
          const actor = await newUser('burst', true);
          const users: User[] = [];
          const sessions: string[] = [];
          const executions: string[] = [];
          const actions: string[] = [];
          // Each kind in a tight loop of its own, so that many of its rows share a millisecond.
          for (let i = 0; i < burst; i++) users.push(await newUser(`burst${i}`));
          for (let i = 0; i < burst; i++) sessions.push((await store.sessions.create(actor.id, `s${i}`)).id);
          for (let i = 0; i < burst; i++) {
            const input = { language: 'javascript' as const, code: `${i}` };
            executions.push((await store.executions.create({ userId: actor.id, kind: 'script', input })).id);
          }
          for (let i = 0; i < burst; i++) {
            actions.push(`burst.${i}`);
            await store.audit.record({ actorId: actor.id, action: `burst.${i}` });
          }
          const listedUsers = (await collectPages((cursor) => store.users.list({ limit: 200, cursor })))
            .items;
          expect(listedUsers.filter((u) => users.some((c) => c.id === u.id)).map((u) => u.id)).toEqual(
            users.map((u) => u.id),
          );
          const newestFirst = (ids: string[]) => [...ids].reverse();
          expect((await store.sessions.list(actor.id, { limit: 200 })).items.map((s) => s.id)).toEqual(
            newestFirst(sessions),
          );
          expect((await store.executions.list(actor.id, { limit: 200 })).items.map((e) => e.id)).toEqual(
            newestFirst(executions),
          );
          expect(
            (await store.audit.list({ actorId: actor.id, limit: 200 })).items.map((e) => e.action),
          ).toEqual(newestFirst(actions));
        });
      });

      describe('audit log', () => {
        it('records entries and lists them newest first', async () => {
          const actor = await newUser('auditor', true);
          const tag = Math.random().toString(36).slice(2);
          await store.audit.record({
            actorId: actor.id,
            action: 'user.create',
            target: `user:${tag}`,
            details: { n: 1 },
          });
          await store.audit.record({ actorId: null, action: 'system.start' });
          await store.audit.record({
            actorId: actor.id,
            action: 'token.revoke',
            details: { nested: { a: [1] } },
          });
          const { items } = await collectPages((cursor) => store.audit.list({ limit: 2, cursor }));
          const newest = items.slice(0, 3);
          expect(newest.map((e) => e.action)).toEqual(['token.revoke', 'system.start', 'user.create']);
          expect(newest[2]).toEqual({
            id: expect.any(String),
            actorId: actor.id,
            action: 'user.create',
            target: `user:${tag}`,
            details: { n: 1 },
            at: expect.any(String),
          });
          expect(newest[1]).toMatchObject({ actorId: null, target: null, details: {} });
          expect(newest[0]?.details).toEqual({ nested: { a: [1] } });
          for (const cursor of badCursors) {
            await expect(store.audit.list({ cursor })).rejects.toBeInstanceOf(InvalidCursorError);
          }
          await expect(store.audit.record({ actorId: null, action: '' })).rejects.toThrow(RangeError);
        });
      });
    });
  });
}
