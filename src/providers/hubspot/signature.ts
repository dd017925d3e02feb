import { createHmac } from 'node:crypto';
import { checkAge, header, requireSecrets, safeEqual, SignatureError, type SignedRequest, type VerifyResult } from '../../webhooks/signatures.js';

/** HubSpot v3 request signatures (the app's client secret). */

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
