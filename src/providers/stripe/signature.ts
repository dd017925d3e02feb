import { createHmac } from 'node:crypto';
import { checkAge, header, requireSecrets, safeEqual, SignatureError, type SignedRequest, type VerifyResult } from '../../webhooks/signatures.js';

/** Stripe: `Stripe-Signature` (t, v1), HMAC-SHA256 with the whole `whsec_` string as the key. */

/** hex(HMAC-SHA256(secret, `${t}.${body}`)). */
export function stripeSignature(secret: string, timestamp: number, body: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** `Stripe-Signature: t=...,v1=...[,v1=...]`; other schemes (v0) are ignored. */
export function verifyStripe(req: SignedRequest, secrets: string[], nowMs: number): VerifyResult {
  const value = header(req, 'stripe-signature');
  if (!value) throw new SignatureError('missing_signature', 'The Stripe-Signature header is missing');
  requireSecrets(secrets);
  let timestamp = NaN;
  const candidates: Buffer[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(val)) timestamp = Number(val);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(val)) candidates.push(Buffer.from(val, 'hex'));
  }
  if (!Number.isFinite(timestamp) || candidates.length === 0) {
    throw new SignatureError('missing_signature', 'The Stripe-Signature header has no timestamp or no v1 signature');
  }
  const matched = secrets.some((secret) => {
    const expected = Buffer.from(stripeSignature(secret, timestamp, req.body), 'hex');
    return candidates.some((c) => safeEqual(c, expected));
  });
  if (!matched) throw new SignatureError('bad_signature', 'No v1 signature matches the payload');
  // Stripe's SDK rejects only old timestamps; a far-future one is refused here too.
  checkAge(timestamp * 1000, nowMs, true);
  return { signedAt: timestamp * 1000 };
}
