import { createHmac } from 'node:crypto';
import { checkAge, header, requireSecrets, safeEqual, SignatureError, type SignedRequest, type VerifyResult } from '../../webhooks/signatures.js';

/** Standard Webhooks (https://www.standardwebhooks.com): the GENERIC provider's scheme. */

/** A Standard Webhooks secret: `whsec_` + base64 key bytes (the bytes are the HMAC key). */
export function standardWebhooksKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)). */
export function standardWebhooksSignature(secret: string, id: string, timestampSeconds: number | string, body: Buffer | string): string {
  return 'v1,' + createHmac('sha256', standardWebhooksKey(secret)).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
}

/** Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated `v1,<b64>`). */
export function verifyStandardWebhooks(req: SignedRequest, secrets: string[], nowMs: number): VerifyResult {
  const id = header(req, 'webhook-id');
  const timestamp = header(req, 'webhook-timestamp');
  const signatures = header(req, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new SignatureError('missing_signature', 'webhook-id, webhook-timestamp and webhook-signature are required');
  requireSecrets(secrets);
  if (!/^\d{1,12}$/.test(timestamp)) throw new SignatureError('bad_signature', 'webhook-timestamp is not epoch seconds');
  if (id.includes('.') || id.length > 255) throw new SignatureError('bad_signature', 'webhook-id must not contain "." and must be at most 255 characters');
  const given = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  if (given.length === 0) throw new SignatureError('missing_signature', 'webhook-signature has no v1 signature');
  const matched = secrets.some((secret) => {
    const expected = Buffer.from(standardWebhooksSignature(secret, id, timestamp, req.body).slice(3), 'base64');
    return given.some((g) => safeEqual(g, expected));
  });
  if (!matched) throw new SignatureError('bad_signature', 'No webhook-signature matches the payload');
  checkAge(Number(timestamp) * 1000, nowMs, true);
  return { messageId: id, signedAt: Number(timestamp) * 1000 };
}
