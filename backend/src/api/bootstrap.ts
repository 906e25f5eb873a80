import type { Services } from '../services.js';
import type { User } from '../store/index.js';

export const adminUserName = 'admin';
/** Name of the token that holds IPA_ADMIN_TOKEN; a rotated value revokes the previous one. */
export const bootstrapTokenName = 'bootstrap (IPA_ADMIN_TOKEN)';

async function findAdmin(services: Services): Promise<User | undefined> {
  let cursor: string | undefined;
  do {
    const page = await services.store.users.list({ limit: 200, cursor });
    const admin = page.items.find((user) => user.isAdmin && user.name === adminUserName);
    if (admin) return admin;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return undefined;
}

/**
 * Makes sure the bootstrap administrator exists and that `token` is theirs (stored hashed).
 * Idempotent: the user is created once (the oldest `admin` administrator is reused), the token
 * stored once. When the configured token changes, earlier bootstrap tokens are revoked.
 */
export async function ensureAdmin(services: Services, token: string): Promise<User> {
  const { store } = services;
  const known = await store.tokens.authenticate(token);
  if (known) {
    if (!known.user.isAdmin) throw new Error('IPA_ADMIN_TOKEN belongs to a user who is not an administrator');
    return known.user;
  }
  let admin = await findAdmin(services);
  if (!admin) {
    admin = await store.users.create({ name: adminUserName, isAdmin: true });
    await store.audit.record({
      actorId: null,
      action: 'user.create',
      target: admin.id,
      details: { bootstrap: true },
    });
  }
  const info = await store.tokens.ensure(admin.id, bootstrapTokenName, token);
  for (const other of await store.tokens.list(admin.id)) {
    if (other.name === bootstrapTokenName && other.id !== info.id && other.revokedAt === null) {
      await store.tokens.revoke(admin.id, other.id);
      await store.audit.record({
        actorId: null,
        action: 'token.revoke',
        target: other.id,
        details: { rotated: true },
      });
    }
  }
  return admin;
}
