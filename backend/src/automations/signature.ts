import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, Stripe style: header `X-IPA-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
 * of "<t>.<raw body>" with the trigger's secret>`.
 */

export const signatureHeader = 'x-ipa-signature';
/** A signature older or newer than this is refused (and remembered for as long, against replays). */
export const signatureToleranceSeconds = 300;

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function sign(secret: string, timestamp: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export function signatureHeaderValue(
  secret: string,
  body: Buffer | string,
  timestamp = Math.floor(Date.now() / 1000),
) {
  return `t=${timestamp},v1=${sign(secret, timestamp, body)}`;
}

export type SignatureCheck =
  | { ok: true; timestamp: number; signature: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' };

/** Parses and checks a header against the body; several `v1=` entries are allowed (any may match). */
export function verifySignature(
  header: string | undefined,
  secret: string,
  body: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' };
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/i.test(value)) candidates.push(value.toLowerCase());
  }
  if (timestamp === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSeconds - timestamp) > signatureToleranceSeconds) return { ok: false, reason: 'expired' };
  const expected = Buffer.from(sign(secret, timestamp, body), 'hex');
  for (const candidate of candidates) {
    // Constant time: how much of a guess matched must not show in how long the answer takes.
    if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) {
      return { ok: true, timestamp, signature: candidate };
    }
  }
  return { ok: false, reason: 'mismatch' };
}
