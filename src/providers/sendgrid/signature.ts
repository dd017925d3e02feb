import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { checkAge, header, requireSecrets, safeEqual, SignatureError, type SignedRequest, type VerifyResult } from '../../webhooks/signatures.js';

/** SendGrid's signed Event Webhook: ECDSA with the integration's public key. */

const publicKeys = new Map<string, KeyObject>();

/** The SendGrid verification key: base64 DER SubjectPublicKeyInfo (or a PEM block). */
export function sendgridPublicKey(value: string): KeyObject {
  let key = publicKeys.get(value);
  if (!key) {
    key = value.includes('BEGIN PUBLIC KEY')
      ? createPublicKey(value)
      : createPublicKey({ key: Buffer.from(value.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec') throw new Error('the SendGrid verification key is not an EC public key');
    if (publicKeys.size > 1000) publicKeys.clear();
    publicKeys.set(value, key);
  }
  return key;
}

/** SendGrid signed event webhook: ECDSA P-256/SHA-256 (DER, base64) over timestamp + raw body. */
export function verifySendgrid(req: SignedRequest, publicKeysB64: string[], nowMs: number): VerifyResult {
  const signature = header(req, 'x-twilio-email-event-webhook-signature');
  const timestamp = header(req, 'x-twilio-email-event-webhook-timestamp');
  if (!signature || !timestamp) {
    throw new SignatureError('missing_signature', 'X-Twilio-Email-Event-Webhook-Signature and -Timestamp are required');
  }
  requireSecrets(publicKeysB64);
  if (!/^\d{1,12}$/.test(timestamp)) throw new SignatureError('bad_signature', 'X-Twilio-Email-Event-Webhook-Timestamp is not epoch seconds');
  const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), req.body]);
  const sig = Buffer.from(signature, 'base64');
  const matched = publicKeysB64.some((k) => {
    try {
      return verifySignature('sha256', signed, sendgridPublicKey(k), sig);
    } catch {
      return false;
    }
  });
  if (!matched) throw new SignatureError('bad_signature', 'The ECDSA signature does not verify with the integration public key');
  // SendGrid documents no window; the same 5 minutes as the other schemes, both ways.
  checkAge(Number(timestamp) * 1000, nowMs, true);
  return { signedAt: Number(timestamp) * 1000 };
}
