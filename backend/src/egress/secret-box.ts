/**
 * Encryption of user secrets at rest: AES-256-GCM with a random 96-bit nonce per value, and the
 * owner and name as associated data, so a ciphertext copied onto another user's or another
 * name's row does not decrypt. Keys come from IPA_SECRETS_KEY as `id:base64` pairs; the first one
 * encrypts, every listed one decrypts, and `rotate` re-encrypts values under older keys.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface Sealed {
  keyId: string;
  /** base64(nonce ‖ tag ‖ ciphertext) */
  ciphertext: string;
}

export class SecretKeyError extends Error {}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  constructor(spec: string) {
    const entries = spec
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    for (const entry of entries) {
      const at = entry.indexOf(':');
      const id = entry.slice(0, at);
      const key = Buffer.from(entry.slice(at + 1), 'base64');
      if (at < 1 || !/^[A-Za-z0-9_.-]{1,64}$/.test(id))
        throw new SecretKeyError('IPA_SECRETS_KEY entries are id:base64-key (id of letters, digits, _ . -)');
      if (key.length !== 32)
        throw new SecretKeyError(`IPA_SECRETS_KEY key "${id}" is not 32 bytes of base64`);
      if (this.keys.has(id)) throw new SecretKeyError(`IPA_SECRETS_KEY names key "${id}" twice`);
      this.keys.set(id, key);
    }
    const first = entries[0];
    if (!first) throw new SecretKeyError('IPA_SECRETS_KEY holds no key');
    this.currentKeyId = first.slice(0, first.indexOf(':'));
  }

  static generateKey(): string {
    return randomBytes(32).toString('base64');
  }

  seal(value: string, owner: string, name: string): Sealed {
    const key = this.keys.get(this.currentKeyId) as Buffer;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(`${owner}\n${name}`));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return {
      keyId: this.currentKeyId,
      ciphertext: Buffer.concat([nonce, cipher.getAuthTag(), body]).toString('base64'),
    };
  }

  open(sealed: Sealed, owner: string, name: string): string {
    const key = this.keys.get(sealed.keyId);
    if (!key)
      throw new SecretKeyError(
        `secret ${name} is encrypted under key "${sealed.keyId}", which IPA_SECRETS_KEY no longer lists`,
      );
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${owner}\n${name}`));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
