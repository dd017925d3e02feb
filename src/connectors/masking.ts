/** Keys whose values never reach a log row: credentials, and personal data. */
const SENSITIVE = /(authorization|api[-_]?key|token|secret|password|signature|cookie|email|phone|name|tax|address|to$|from$|dynamic_template_data)/i;
const MAX_STRING = 2_000;
const MAX_ITEMS = 50;

/** A copy of a body with sensitive values replaced by "[MASKED]", bounded in size. */
export function maskBody(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (depth > 6) return '[TRUNCATED]';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => maskBody(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>).slice(0, MAX_ITEMS)) {
    out[key] = SENSITIVE.test(key) && v !== null && v !== '' ? '[MASKED]' : maskBody(v, depth + 1);
  }
  return out;
}

/** Form bodies (Stripe) as an object of masked fields, so they log like JSON bodies. */
export function maskForm(form: string): unknown {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(form)) out[k] = SENSITIVE.test(k) && v !== '' ? '[MASKED]' : v;
  return out;
}
