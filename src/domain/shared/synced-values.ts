import { createHash } from 'node:crypto';
import type { Contract } from '../contract/contract.entity.js';
import type { Customer } from '../customer/customer.entity.js';

/** Per canonical field (`name`, `email`, `title`, ...): a hash of the value a provider holds. */
export type SyncedHashes = Record<string, string>;

/**
 * A canonical value's hash, as links keep it: compared, never read back (no personal data is
 * stored twice). Emails compare without case, empty and null alike, dates as ISO text.
 */
export function valueHash(field: string, value: unknown): string {
  let text = value === null || value === undefined || value === '' ? '' : value instanceof Date ? value.toISOString() : String(value);
  if (field === 'email') text = text.toLowerCase();
  return createHash('sha256').update(`${field}\u0000${text}`).digest('base64url').slice(0, 22);
}

/** The canonical fields of a record that outbound operations may carry, by the names links keep. */
export function canonicalValues(entityType: 'Customer' | 'Contract', entity: Customer | Contract): Record<string, unknown> {
  if (entityType === 'Customer') {
    const c = entity as Customer;
    return { name: c.name, email: c.email, phone: c.phone, taxId: c.taxId, currency: c.currency };
  }
  const k = entity as Contract;
  return { title: k.title, status: k.status, value: k.valueMinor, currency: k.valueCurrency, endDate: k.endDate };
}

/** Hashes of these fields' values. */
export function hashesOf(values: Record<string, unknown>, fields: readonly string[]): SyncedHashes {
  return Object.fromEntries(fields.map((f) => [f, valueHash(f, values[f])]));
}

/** True when the link already holds every one of these hashes (nothing new to send). */
export function holdsAll(synced: SyncedHashes | null | undefined, hashes: SyncedHashes): boolean {
  const keys = Object.keys(hashes);
  return keys.length > 0 && !!synced && keys.every((k) => synced[k] === hashes[k]);
}

/** The link's name for an owned field (`customer.name` -> `name`, `contract.value` -> `value`). */
export const linkField = (owned: string) => owned.slice(owned.indexOf('.') + 1);
