import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import { badInput } from './errors.js';

// uuid's v7() asks the kernel for 16 random bytes per id (one getrandom call each: 3% of the
// webhook ingress's CPU). These ids draw them from a pool filled 512 ids at a time, and keep the
// ordering state v7() keeps for itself when given no options: a random 32-bit counter per
// millisecond, incremented within it, carrying into the timestamp when it wraps.
const pool = new Uint8Array(16 * 512);
let poolAt = pool.length;
let lastMs = -Infinity;
let seq = 0;

/** Time-ordered ids (UUIDv7, monotonic in this process): keyset pagination by id is insertion order, and index pages stay warm. */
export function newId(): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const random = pool.subarray(poolAt, (poolAt += 16));
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    seq = ((random[6] & 0x7f) << 24) | (random[7] << 16) | (random[8] << 8) | random[9];
  } else if ((seq = (seq + 1) | 0) === 0) lastMs++;
  return uuidv7({ msecs: lastMs, seq, random });
}

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
