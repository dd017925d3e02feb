import { createHash, randomBytes } from 'node:crypto';
import { badInput } from '../../domain/shared/errors.js';
import { requireSecrets, safeEqual, SignatureError, type SignedRequest, type VerifyResult } from '../../webhooks/signatures.js';
import { readOutboundMessage } from './soap.js';

/**
 * Salesforce Outbound Messages carry no signature. What authenticates one here: a secret token
 * in the endpoint URL that the gateway generated (an attacker who guesses the integration id
 * still lacks it), and the organisation id in the message body. Both are compared in constant
 * time. The stored webhook secret is the pair `<organisation id>:<url token>`, so rotation and
 * its grace window (rotateIntegrationSecret) work as for every other provider: a new token,
 * with the previous URL accepted for graceSeconds.
 */

const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/**
 * The 18-character, case-safe form of a Salesforce id, or null when it is not one. The last three
 * characters encode which of the first fifteen are upper case (5 per character), so an 18-character
 * id with a wrong suffix (a typo, a case change) is refused.
 */
export function salesforceId18(value: string): string | null {
  if (!/^[a-zA-Z0-9]{15}([A-Z0-5]{3})?$/.test(value)) return null;
  const base = value.slice(0, 15);
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const c = base[chunk * 5 + i];
      if (c >= 'A' && c <= 'Z') bits |= 1 << i;
    }
    suffix += CHECKSUM_ALPHABET[bits];
  }
  const id = base + suffix;
  return value.length === 15 || value === id ? id : null;
}

interface StoredSecret {
  organizationId: string;
  token: string;
}

function readSecret(stored: string): StoredSecret | null {
  const [organizationId, token] = stored.split(':');
  return organizationId && token ? { organizationId, token } : null;
}

/**
 * What is stored for the organisation id an operator gives (15 or 18 characters, starting 00D):
 * its 18-character form and a fresh 256-bit URL token.
 */
export function issueSalesforceSecret(organizationId: string): string {
  const id = salesforceId18(organizationId.trim());
  if (!id || !id.startsWith('00D')) {
    throw badInput(
      'webhookSecret',
      'for SALESFORCE, webhookSecret is the organisation id: 15 or 18 characters starting with 00D (Setup > Company Information); an 18-character id must have its own checksum',
    );
  }
  return `${id}:${randomBytes(32).toString('base64url')}`;
}

/** The query the webhook URL carries for a stored secret. */
export function salesforceUrlQuery(stored: string): string {
  const secret = readSecret(stored);
  return secret ? `?token=${secret.token}` : '';
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The URL token first (nothing about the body is looked at without it), then the OrganizationId
 * of the message against the organisation of the secret that matched. A body that cannot be read
 * as an Outbound Message is left to the parser (400); one that names another organisation, or
 * none, is 401.
 */
export function verifySalesforce(req: SignedRequest, secrets: string[], nowMs: number): VerifyResult {
  const token = new URL(req.url, 'http://gateway.invalid').searchParams.get('token');
  if (!token) throw new SignatureError('missing_signature', "The webhook URL has no ?token=: use the integration's webhookUrl as the Outbound Message's endpoint URL");
  requireSecrets(secrets);
  // Digests have one length, so the comparison takes the same time whatever was sent.
  const given = digest(token);
  const matched = secrets.map(readSecret).filter((s): s is StoredSecret => s !== null && safeEqual(given, digest(s.token)));
  if (matched.length === 0) throw new SignatureError('bad_signature', 'The token in the webhook URL does not match this integration');
  const message = readOutboundMessage(req.body);
  if (message instanceof Error) return { signedAt: nowMs };
  const organization = message.organizationId ? salesforceId18(message.organizationId) : null;
  if (!organization || !matched.some((s) => safeEqual(Buffer.from(organization), Buffer.from(s.organizationId)))) {
    throw new SignatureError('bad_signature', "The message's OrganizationId is not this integration's organisation");
  }
  return { signedAt: nowMs };
}
