import { createHmac, createPublicKey, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import { Provider } from '../domain/integration/integration.entity.js';

/**
 * Webhook signature schemes, one verifier per provider, on node:crypto with constant-time
 * comparison (ADR 0006 says why no SDK verifies here). Each verifier takes the raw body exactly
 * as received and every secret that may sign right now (during a rotation: the new and the old).
 */

/** How far a signed timestamp may be from now. Stripe, HubSpot v3, Standard Webhooks: 5 minutes. */
export const TOLERANCE_SECONDS = 300;

export type RejectReason = 'missing_signature' | 'bad_signature' | 'stale_timestamp' | 'no_secret';

export class SignatureError extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = 'SignatureError';
  }
}

export interface SignedRequest {
  method: string;
  /** The full URL the provider called (scheme, host, path, query), for HubSpot v3. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface VerifyResult {
  /** Standard Webhooks' `webhook-id`: the event id lives in a header, not the body. */
  messageId?: string;
  /** The signed timestamp, in milliseconds since the epoch. */
  signedAt: number;
}

function header(req: SignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkAge(signedAtMs: number, nowMs: number, futureToo: boolean): void {
  const age = nowMs - signedAtMs;
  if (age > TOLERANCE_SECONDS * 1000) throw new SignatureError('stale_timestamp', 'The signed timestamp is older than 300 seconds');
  if (futureToo && -age > TOLERANCE_SECONDS * 1000) throw new SignatureError('stale_timestamp', 'The signed timestamp is more than 300 seconds ahead');
}

function requireSecrets(secrets: string[]): void {
  if (secrets.length === 0) throw new SignatureError('no_secret', 'The integration has no webhook secret: nothing can verify');
}

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

const HUBSPOT_DECODE: Record<string, string> = {
  '%3A': ':', '%2F': '/', '%3F': '?', '%40': '@', '%21': '!', '%24': '$', '%27': "'", '%28': '(', '%29': ')', '%2A': '*', '%2C': ',', '%3B': ';',
};

/** HubSpot decodes only these escapes in the URI before signing. */
export function hubspotUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => HUBSPOT_DECODE[m.toUpperCase()]);
}

/** base64(HMAC-SHA256(appSecret, method + uri + body + timestamp)). */
export function hubspotSignatureV3(secret: string, method: string, url: string, body: Buffer | string, timestampMs: number | string): string {
  return createHmac('sha256', secret).update(method.toUpperCase()).update(hubspotUri(url)).update(body).update(String(timestampMs)).digest('base64');
}

/** HubSpot v3: `X-HubSpot-Signature-v3` with `X-HubSpot-Request-Timestamp` (ms). v1/v2 are refused. */
export function verifyHubspot(req: SignedRequest, secrets: string[], nowMs: number): VerifyResult {
  const signature = header(req, 'x-hubspot-signature-v3');
  const timestamp = header(req, 'x-hubspot-request-timestamp');
  if (!signature || !timestamp) {
    throw new SignatureError('missing_signature', 'X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required (v1 and v2 are not accepted)');
  }
  requireSecrets(secrets);
  if (!/^\d{1,15}$/.test(timestamp)) throw new SignatureError('bad_signature', 'X-HubSpot-Request-Timestamp is not epoch milliseconds');
  const given = Buffer.from(signature, 'base64');
  const matched = secrets.some((secret) => safeEqual(given, Buffer.from(hubspotSignatureV3(secret, req.method, req.url, req.body, timestamp), 'base64')));
  if (!matched) throw new SignatureError('bad_signature', 'X-HubSpot-Signature-v3 does not match the request');
  checkAge(Number(timestamp), nowMs, true);
  return { signedAt: Number(timestamp) };
}

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

const VERIFIERS: Record<Provider, (req: SignedRequest, secrets: string[], nowMs: number) => VerifyResult> = {
  [Provider.STRIPE]: verifyStripe,
  [Provider.HUBSPOT]: verifyHubspot,
  [Provider.SENDGRID]: verifySendgrid,
  [Provider.GENERIC]: verifyStandardWebhooks,
};

/** The provider's scheme; a provider without one fails closed. */
export function verifyWebhook(provider: Provider, req: SignedRequest, secrets: string[], nowMs = Date.now()): VerifyResult {
  const verifier = VERIFIERS[provider];
  if (!verifier) throw new SignatureError('bad_signature', `No signature scheme is known for ${provider}`);
  return verifier(req, secrets, nowMs);
}
