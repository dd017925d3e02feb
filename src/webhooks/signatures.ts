import { timingSafeEqual } from 'node:crypto';

/**
 * What every webhook signature scheme shares: the request it sees, what it returns, the named
 * refusals, and the checks all of them make. Each provider's scheme lives in its folder
 * (`src/providers/<name>/signature.ts`), on node:crypto with constant-time comparison (ADR 0006
 * says why no SDK verifies here); the registry says which one a provider uses, and a provider
 * without one fails closed (the ingress).
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

export function header(req: SignedRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function checkAge(signedAtMs: number, nowMs: number, futureToo: boolean): void {
  const age = nowMs - signedAtMs;
  if (age > TOLERANCE_SECONDS * 1000) throw new SignatureError('stale_timestamp', 'The signed timestamp is older than 300 seconds');
  if (futureToo && -age > TOLERANCE_SECONDS * 1000) throw new SignatureError('stale_timestamp', 'The signed timestamp is more than 300 seconds ahead');
}

export function requireSecrets(secrets: string[]): void {
  if (secrets.length === 0) throw new SignatureError('no_secret', 'The integration has no webhook secret: nothing can verify');
}

/** Verifies one request with the secrets that may sign it now; throws SignatureError. */
export type WebhookVerifier = (req: SignedRequest, secrets: string[], nowMs: number) => VerifyResult;
