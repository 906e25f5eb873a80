import { describe, expect, it } from 'vitest';
import { sign, signatureHeaderValue, verifySignature } from '../../src/automations/signature.js';

const secret = 'whsec_test-secret-0123456789';
const body = Buffer.from('{"a":1}');

describe('webhook signatures', () => {
  it('accepts HMAC-SHA256 of "<t>.<body>" within five minutes', () => {
    const now = 1_800_000_000;
    const header = signatureHeaderValue(secret, body, now);
    expect(header).toBe(`t=${now},v1=${sign(secret, now, body)}`);
    expect(verifySignature(header, secret, body, now + 300)).toMatchObject({ ok: true, timestamp: now });
    expect(verifySignature(header, secret, body, now + 301)).toEqual({ ok: false, reason: 'expired' });
    expect(verifySignature(header, secret, body, now - 301)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a changed body, another secret, and malformed headers', () => {
    const now = 1_800_000_000;
    const header = signatureHeaderValue(secret, body, now);
    expect(verifySignature(header, secret, Buffer.from('{"a":2}'), now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifySignature(header, 'whsec_other', body, now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(undefined, secret, body, now)).toEqual({ ok: false, reason: 'missing' });
    for (const bad of ['v1=abc', `t=${now}`, `t=x,v1=${'0'.repeat(64)}`, `t=${now},v1=${'z'.repeat(64)}`]) {
      expect(verifySignature(bad, secret, body, now)).toEqual({ ok: false, reason: 'malformed' });
    }
    // Several v1 entries (a sender signing with an old and a new secret): any may match.
    const both = `t=${now},v1=${sign('whsec_old', now, body)},v1=${sign(secret, now, body)}`;
    expect(verifySignature(both, secret, body, now).ok).toBe(true);
  });
});
