import { createHmac, randomBytes } from 'node:crypto';

/**
 * What reaches a log row, an audit row or an error message about personal data and secrets.
 *
 * Two rules, both applied everywhere:
 * - by key: a value under a credential or personal key (authorization, token, email, name,
 *   phone, address...) is replaced;
 * - by value: any other string is scanned, so personal data under an innocent key (a provider's
 *   form-encoded echo `name=Alice&...` kept as `raw`, an email quoted in an error message) is
 *   masked too. Embedded form-encoded and JSON text is parsed and masked by key.
 *
 * Personal values are not dropped: they become `A*** [5 chars, fp 3f2a9c]`, where the
 * fingerprint is a keyed hash (the deployment's own key), so an operator can tell two masked
 * values apart or see that they are equal, without reading them.
 */

/** Keys whose values never reach a log row: credentials, and personal data. */
const SECRET_KEY = /(authorization|api[-_]?key|token|secret|password|signature|cookie|credential|private[-_]?key)/i;
const PERSONAL_KEY = /(email|phone|mobile|name|tax|address|street|city|postal|zip|birth|ssn|iban|card|^to$|^from$|^cc$|^bcc$|dynamic_template_data)/i;
const MAX_STRING = 2_000;
const MAX_ITEMS = 50;

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
// Seven or more digits with the usual separators (phone numbers, card and account numbers).
// Not inside a word or an id (a UUID's digit group, cus_123...).
const LONG_NUMBER = /(?<![\w.-])\+?\d[\d ().-]{5,}\d(?![\w])/g;

let fingerprintKey: Buffer = randomBytes(32);

/** The key of the fingerprints: derived from ENCRYPTION_KEY, so every process of a deployment agrees. */
export function configureMasking(encryptionKey: Buffer): void {
  fingerprintKey = createHmac('sha256', encryptionKey).update('switchboard:masking-fingerprint').digest();
}

function fingerprint(value: string): string {
  return createHmac('sha256', fingerprintKey).update(value).digest('hex').slice(0, 6);
}

/** A personal value as it may be stored: its first character, its length and a fingerprint. */
export function maskPersonal(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  const text = value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return `${[...text][0] ?? ''}*** [${[...text].length} chars, fp ${fingerprint(text)}]`;
}

/** Free text with emails and long digit runs masked (error messages, raw bodies). */
export function maskText(text: string): string {
  return text.replace(EMAIL, (m) => maskPersonal(m)!).replace(LONG_NUMBER, (m) => (m.replace(/\D/g, '').length >= 7 ? maskPersonal(m)! : m));
}

/** Form-encoded text (`a=1&b=2`, as Stripe takes and some providers echo). */
function looksLikeForm(text: string): boolean {
  return /^[A-Za-z0-9_.%[\]-]+=[^&]*(&[A-Za-z0-9_.%[\]-]+=[^&]*)*$/.test(text.trim());
}

function maskString(value: string, depth: number): unknown {
  const text = value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  const trimmed = text.trim();
  if ((trimmed.startsWith('{') || trimmed.startsWith('[')) && depth < 6) {
    try {
      return maskBody(JSON.parse(trimmed), depth + 1);
    } catch {
      // not JSON: masked as text below
    }
  }
  if (looksLikeForm(trimmed)) return maskForm(trimmed);
  return maskText(text);
}

/** A copy of a body with secrets replaced by "[MASKED]" and personal data masked, bounded in size. */
export function maskBody(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (depth > 6) return '[TRUNCATED]';
  if (typeof value === 'string') return maskString(value, depth);
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => maskBody(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>).slice(0, MAX_ITEMS)) {
    out[key] = maskField(key, v, depth);
  }
  return out;
}

function maskField(key: string, value: unknown, depth: number): unknown {
  if (value === null || value === '') return value;
  if (SECRET_KEY.test(key)) return '[MASKED]';
  if (PERSONAL_KEY.test(key)) return typeof value === 'object' ? '[MASKED]' : maskPersonal(value);
  return maskBody(value, depth + 1);
}

/** Form bodies (Stripe) as an object of masked fields, so they log like JSON bodies. */
export function maskForm(form: string): unknown {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of new URLSearchParams(form)) {
    if (n++ >= MAX_ITEMS) break;
    out[k] = v === '' ? v : SECRET_KEY.test(k) ? '[MASKED]' : PERSONAL_KEY.test(k) ? maskPersonal(v) : maskText(v);
  }
  return out;
}
