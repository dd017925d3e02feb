import { v7 as uuidv7 } from 'uuid';
import { badInput } from './errors.js';

/** Time-ordered ids: keyset pagination by id is insertion order, and index pages stay warm. */
export const newId = (): string => uuidv7();

/** A UUID in any case; also used in SQL (`~*`) where a JSON value must be checked before a cast. */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const UUID = new RegExp(UUID_PATTERN, 'i');
export const isUuid = (value: string): boolean => UUID.test(value);

/** Relay global ids: base64url("Type:uuid"). Opaque to clients, decodable to the row. */
export function toGlobalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
}

export function fromGlobalId(globalId: string): { type: string; id: string } | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(globalId)) return null;
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep <= 0) return null;
  const type = decoded.slice(0, sep);
  const id = decoded.slice(sep + 1);
  return isUuid(id) ? { type, id } : null;
}

/**
 * Accepts the global id of `type` (or a bare uuid, for scripts that hold database ids)
 * and returns the row id. Anything else is a BAD_USER_INPUT naming the argument.
 */
export function parseId(type: string, value: string, field: string): string {
  if (isUuid(value)) return value.toLowerCase();
  const parsed = fromGlobalId(value);
  if (!parsed || parsed.type !== type) throw badInput(field, `${field} is not a valid ${type} id`);
  return parsed.id;
}
