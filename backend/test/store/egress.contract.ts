/** Contract of the egress repository (secrets, allowlists, request log), on every database. */
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { Store, User } from '../../src/store/types.js';

export function egressContract(store: () => Store, newUser: (label?: string) => Promise<User>): void {
  it('stores, replaces, lists and deletes secrets per user', async () => {
    const egress = store().egress;
    const [x, y] = [await newUser('x'), await newUser('y')];
    const made = await egress.putSecret({
      userId: x.id,
      name: 'API_TOKEN',
      hosts: ['api.example.com'],
      delivery: { header: 'Authorization', template: 'Bearer {value}' },
      keyId: 'k1',
      ciphertext: 'c1',
    });
    expect(made).toMatchObject({ userId: x.id, name: 'API_TOKEN', keyId: 'k1', ciphertext: 'c1' });
    const replaced = await egress.putSecret({
      userId: x.id,
      name: 'API_TOKEN',
      hosts: ['*.example.com'],
      delivery: { query: 'key' },
      keyId: 'k2',
      ciphertext: 'c2',
    });
    expect(replaced.id).toBe(made.id);
    expect(replaced.delivery).toEqual({ query: 'key' });
    expect(await egress.getSecret(x.id, 'API_TOKEN')).toMatchObject({
      hosts: ['*.example.com'],
      ciphertext: 'c2',
    });
    // Another user's name space is separate.
    expect(await egress.getSecret(y.id, 'API_TOKEN')).toBeUndefined();
    expect(await egress.listSecrets(y.id)).toEqual([]);
    expect((await egress.listSecrets(x.id)).map((s) => s.name)).toEqual(['API_TOKEN']);
    expect(await egress.deleteSecret(y.id, 'API_TOKEN')).toBe(false);
    await expect(
      egress.putSecret({
        userId: x.id,
        name: 'bad name',
        hosts: [],
        delivery: { query: 'q' },
        keyId: 'k',
        ciphertext: 'c',
      }),
    ).rejects.toThrow();
    expect(await egress.getSecret('not-a-uuid', 'API_TOKEN')).toBeUndefined();
    expect(await egress.deleteSecret(x.id, 'API_TOKEN')).toBe(true);
    expect(await egress.getSecret(x.id, 'API_TOKEN')).toBeUndefined();
  });

  it('finds secrets under an old key and re-encrypts only an unchanged one', async () => {
    const egress = store().egress;
    const user = await newUser('rot');
    const secret = await egress.putSecret({
      userId: user.id,
      name: 'OLD',
      hosts: [],
      delivery: { query: 'k' },
      keyId: `old-${user.id}`,
      ciphertext: 'c-old',
    });
    const stale = await egress.secretsNotUnder(`new-${user.id}`, 10_000);
    expect(stale.some((s) => s.id === secret.id)).toBe(true);
    expect(await egress.reencryptSecret(secret.id, 'something-else', 'new', 'c-new')).toBe(false);
    expect(await egress.reencryptSecret(secret.id, 'c-old', 'new', 'c-new')).toBe(true);
    expect(await egress.getSecret(user.id, 'OLD')).toMatchObject({ keyId: 'new', ciphertext: 'c-new' });
  });

  it('keeps the user and automation levels of the allowlist', async () => {
    const egress = store().egress;
    const [owner, other] = [await newUser('owner'), await newUser('other')];
    expect(await egress.userAllowlist(owner.id)).toBeNull();
    await egress.setUserAllowlist(owner.id, ['api.example.com']);
    expect(await egress.userAllowlist(owner.id)).toEqual(['api.example.com']);
    await egress.setUserAllowlist(owner.id, []);
    expect(await egress.userAllowlist(owner.id)).toEqual([]);
    await egress.setUserAllowlist(owner.id, null);
    expect(await egress.userAllowlist(owner.id)).toBeNull();
    const { id: automation } = await store().automations.create(owner.id, {
      name: 'narrowed',
      language: 'javascript',
      code: 'return 1',
    });
    expect(await egress.automationAllowlist(automation)).toBeNull();
    await egress.setAutomationAllowlist(automation, owner.id, ['a.example.com:8443']);
    expect(await egress.automationAllowlist(automation)).toEqual({
      ownerId: owner.id,
      rules: ['a.example.com:8443'],
    });
    await expect(egress.setAutomationAllowlist(automation, other.id, ['evil.example.com'])).rejects.toThrow(
      RangeError,
    );
    expect((await egress.automationAllowlist(automation))?.rules).toEqual(['a.example.com:8443']);
    await egress.setAutomationAllowlist(automation, owner.id, null);
    expect(await egress.automationAllowlist(automation)).toBeNull();
    // The allowlist goes with its automation.
    await egress.setAutomationAllowlist(automation, owner.id, ['a.example.com']);
    await store().automations.delete(owner.id, automation);
    expect(await egress.automationAllowlist(automation)).toBeNull();
    await expect(egress.setAutomationAllowlist(randomUUID(), owner.id, ['a.example.com'])).rejects.toThrow();
    expect(await egress.automationAllowlist('nope')).toBeNull();
  });

  it('records proxied requests per execution, oldest first', async () => {
    const s = store();
    const user = await newUser('log');
    const execution = await s.executions.create({
      userId: user.id,
      kind: 'script',
      input: { language: 'javascript', code: '1' },
    });
    const base = {
      executionId: execution.id,
      userId: user.id,
      port: 443,
      method: 'GET',
      bytesSent: 10,
      bytesReceived: 20,
      durationMs: 3,
    };
    await s.egress.recordRequest({
      ...base,
      host: 'a.example.com',
      status: 200,
      outcome: 'allowed',
      reason: null,
    });
    await s.egress.recordRequest({
      ...base,
      host: 'b.example.com',
      status: 403,
      outcome: 'refused',
      reason: 'not allowed',
    });
    const entries = await s.egress.listRequests(execution.id);
    expect(entries.map((e) => [e.host, e.outcome, e.status, e.bytesReceived])).toEqual([
      ['a.example.com', 'allowed', 200, 20],
      ['b.example.com', 'refused', 403, 20],
    ]);
    expect(entries[1]?.reason).toBe('not allowed');
    expect(await s.egress.listRequests('nope')).toEqual([]);
  });
}
