import type { VerifyResult } from './signatures.js';

/**
 * What every provider's event format shares: the parsed event, the refusal (400), and the
 * careful readers of JSON, text and times. Each provider's format lives in its folder
 * (`src/providers/<name>/events.ts`).
 */

/** One provider event out of a verified request body. */
export interface ParsedEvent {
  externalEventId: string;
  eventType: string;
  /** The provider's own time of the event (orders changes to the same record). */
  occurredAt: Date | null;
  /** The event's JSON text: the whole body, or one element of a batch. */
  body: string;
}

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/** Batches larger than this are refused (HubSpot sends up to 100, SendGrid about 1,000 per post). */
export const MAX_EVENTS_PER_REQUEST = 5_000;

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new PayloadError('The body is not valid JSON');
  }
}

/** In a `u` regex a surrogate pair is one code point, so this matches only unpaired halves. */
const LONE_SURROGATE = /\p{Cs}/u;

export function text(v: unknown, max = 255): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  // NUL cannot be stored in a PostgreSQL text column, nor a lone surrogate (a "\ud800" escape)
  // passed through jsonb: such an event could never be stored, so it is refused, not retried.
  return typeof v === 'string' && v.length > 0 && v.length <= max && !v.includes('\u0000') && !LONE_SURROGATE.test(v) ? v : null;
}

/** Years 1 to 9999 (what PostgreSQL's timestamptz and Date#toISOString both take), else null. */
export function inRange(d: Date): Date | null {
  const t = d.getTime();
  return Number.isFinite(t) && t >= -62135596800000 && t <= 253402300799999 ? d : null;
}

export function epoch(v: unknown, unitMs: number): Date | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? inRange(new Date(v * unitMs)) : null;
}

export function batch(body: Buffer, what: string): Json[] {
  const parsed = parseJson(body);
  if (!Array.isArray(parsed)) throw new PayloadError(`A ${what} webhook body is a JSON array of events`);
  if (parsed.length === 0) throw new PayloadError('The batch holds no events');
  if (parsed.length > MAX_EVENTS_PER_REQUEST) throw new PayloadError(`At most ${MAX_EVENTS_PER_REQUEST} events per request`);
  return parsed.map((e, i) => {
    if (!isObject(e)) throw new PayloadError(`Event ${i} is not an object`);
    return e;
  });
}

/** Reads the events out of a verified body; a body not in the provider's shape is a PayloadError (400). */
export type EventParser = (body: Buffer, verified: VerifyResult) => ParsedEvent[];
