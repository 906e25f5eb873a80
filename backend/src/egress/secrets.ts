/**
 * User secrets: validated, sealed with the SecretBox, stored by the egress repository. The API
 * reads back names and bindings only; the value is opened solely for the proxy, on the worker.
 */
import type { EgressRepository, SecretDelivery, StoredSecret } from '../store/types.js';
import { formatRule, PolicyInputError, parseAllowRule } from './policy.js';
import type { EgressSecret } from './proxy.js';
import type { SecretBox } from './secret-box.js';

export const secretNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const headerNamePattern = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,200}$/;
const maxValueBytes = 16 * 1024;

export interface SecretInput {
  name: string;
  value: string;
  hosts: string[];
  delivery: SecretDelivery;
}

/** What anyone but the proxy sees of a secret. */
export interface SecretSummary {
  name: string;
  hosts: string[];
  delivery: SecretDelivery;
  createdAt: string;
  updatedAt: string;
}

export function summary(secret: StoredSecret): SecretSummary {
  return {
    name: secret.name,
    hosts: secret.hosts,
    delivery: secret.delivery,
    createdAt: secret.createdAt,
    updatedAt: secret.updatedAt,
  };
}

export function validateSecret(input: SecretInput): SecretInput {
  if (!secretNamePattern.test(input.name))
    throw new PolicyInputError(
      'a secret name has 1 to 64 letters, digits and underscores, not starting with a digit',
    );
  if (
    typeof input.value !== 'string' ||
    input.value.length === 0 ||
    Buffer.byteLength(input.value) > maxValueBytes
  )
    throw new PolicyInputError(`a secret value has 1 to ${maxValueBytes} bytes`);
  if (/[\r\n\0]/.test(input.value))
    throw new PolicyInputError('a secret value cannot contain line breaks or NUL');
  if (!Array.isArray(input.hosts) || input.hosts.length === 0 || input.hosts.length > 50)
    throw new PolicyInputError('a secret is bound to 1 to 50 hosts');
  const hosts = input.hosts.map((h) => formatRule(parseAllowRule(h)));
  const delivery = input.delivery;
  if ('header' in delivery) {
    if (!headerNamePattern.test(delivery.header))
      throw new PolicyInputError('the header name is not a valid HTTP header name');
    if (/^(host|content-length|transfer-encoding|connection|x-ipa-secret)$/i.test(delivery.header))
      throw new PolicyInputError(`a secret cannot be sent as the ${delivery.header} header`);
    if (
      !delivery.template.includes('{value}') ||
      /[\r\n\0]/.test(delivery.template) ||
      delivery.template.length > 1000
    )
      throw new PolicyInputError('the header template is one line containing {value}, e.g. "Bearer {value}"');
  } else if (!('query' in delivery) || !/^[A-Za-z0-9_.~-]{1,200}$/.test(delivery.query)) {
    throw new PolicyInputError(
      'a secret is sent in a header (header, template) or a query parameter (query)',
    );
  }
  return { ...input, hosts };
}

export class Secrets {
  constructor(
    private readonly repository: () => EgressRepository,
    private readonly box: SecretBox | undefined,
  ) {}

  get enabled(): boolean {
    return this.box !== undefined;
  }

  private requireBox(): SecretBox {
    if (!this.box)
      throw new PolicyInputError('user secrets are disabled: the installation sets no IPA_SECRETS_KEY');
    return this.box;
  }

  async put(userId: string, input: SecretInput): Promise<{ secret: SecretSummary; created: boolean }> {
    const box = this.requireBox();
    const valid = validateSecret(input);
    const existed = await this.repository().getSecret(userId, valid.name);
    const sealed = box.seal(valid.value, userId, valid.name);
    const stored = await this.repository().putSecret({
      userId,
      name: valid.name,
      hosts: valid.hosts,
      delivery: valid.delivery,
      keyId: sealed.keyId,
      ciphertext: sealed.ciphertext,
    });
    return { secret: summary(stored), created: !existed };
  }

  async list(userId: string): Promise<SecretSummary[]> {
    return (await this.repository().listSecrets(userId)).map(summary);
  }

  delete(userId: string, name: string): Promise<boolean> {
    return this.repository().deleteSecret(userId, name);
  }

  /** The value and bindings for the proxy (worker side only). */
  async resolve(userId: string, name: string): Promise<EgressSecret | undefined> {
    if (!this.box || !secretNamePattern.test(name)) return undefined;
    const stored = await this.repository().getSecret(userId, name);
    if (!stored) return undefined;
    return {
      name: stored.name,
      value: this.box.open(
        { keyId: stored.keyId, ciphertext: stored.ciphertext },
        stored.userId,
        stored.name,
      ),
      hosts: stored.hosts.map(parseAllowRule),
      ...('header' in stored.delivery
        ? { header: { name: stored.delivery.header, template: stored.delivery.template } }
        : { query: stored.delivery.query }),
    };
  }

  /** Re-encrypts every secret under an older key with the current one; returns how many. */
  async rotate(): Promise<number> {
    const box = this.box;
    if (!box) return 0;
    let done = 0;
    for (;;) {
      const batch = await this.repository().secretsNotUnder(box.currentKeyId, 100);
      if (batch.length === 0) return done;
      let progressed = false;
      for (const secret of batch) {
        const value = box.open(
          { keyId: secret.keyId, ciphertext: secret.ciphertext },
          secret.userId,
          secret.name,
        );
        const sealed = box.seal(value, secret.userId, secret.name);
        if (
          await this.repository().reencryptSecret(
            secret.id,
            secret.ciphertext,
            sealed.keyId,
            sealed.ciphertext,
          )
        ) {
          done++;
          progressed = true;
        }
      }
      // A concurrent replace won every row of this batch: read again.
      if (!progressed && batch.length < 100) return done;
    }
  }
}
