/**
 * Stripe's form encoding, as stripe-node sends it: nested objects as `a[b]=v`, arrays as
 * `a[0]=v`, null as an empty value (which unsets), booleans as true/false.
 */
export function encodeForm(params: Record<string, unknown>): string {
  const parts: string[] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value === undefined) return;
    if (value === null) {
      parts.push(`${prefix}=`);
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(`${prefix}[${i}]`, v));
    } else if (value instanceof Date) {
      parts.push(`${prefix}=${Math.floor(value.getTime() / 1000)}`);
    } else if (typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(`${prefix}[${k}]`, v);
    } else {
      parts.push(`${prefix}=${encodeURIComponent(String(value))}`);
    }
  };
  for (const [key, value] of Object.entries(params)) walk(key, value);
  // Brackets stay readable, as stripe-node leaves them.
  return parts.map((p) => p.replace(/%5B/g, '[').replace(/%5D/g, ']')).join('&');
}

/** The inverse, for the sandbox: `a[b][0]=v` back into nested objects and arrays. */
export function decodeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const path = rawKey.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> = root;
    path.forEach((segment, i) => {
      if (i === path.length - 1) node[segment] = value;
      else node = (node[segment] ??= /^\d+$/.test(path[i + 1]) ? [] : {}) as Record<string, unknown>;
    });
  }
  return root;
}
