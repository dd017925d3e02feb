import { Provider } from '../domain/integration/integration.entity.js';
import type { VerifyResult } from './signatures.js';

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

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new PayloadError('The body is not valid JSON');
  }
}

/** In a `u` regex a surrogate pair is one code point, so this matches only unpaired halves. */
const LONE_SURROGATE = /\p{Cs}/u;

function text(v: unknown, max = 255): string | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  // NUL cannot be stored in a PostgreSQL text column, nor a lone surrogate (a "\ud800" escape)
  // passed through jsonb: such an event could never be stored, so it is refused, not retried.
  return typeof v === 'string' && v.length > 0 && v.length <= max && !v.includes('\u0000') && !LONE_SURROGATE.test(v) ? v : null;
}

/** Years 1 to 9999 (what PostgreSQL's timestamptz and Date#toISOString both take), else null. */
function inRange(d: Date): Date | null {
  const t = d.getTime();
  return Number.isFinite(t) && t >= -62135596800000 && t <= 253402300799999 ? d : null;
}

function epoch(v: unknown, unitMs: number): Date | null {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? inRange(new Date(v * unitMs)) : null;
}

function batch(body: Buffer, what: string): Json[] {
  const parsed = parseJson(body);
  if (!Array.isArray(parsed)) throw new PayloadError(`A ${what} webhook body is a JSON array of events`);
  if (parsed.length === 0) throw new PayloadError('The batch holds no events');
  if (parsed.length > MAX_EVENTS_PER_REQUEST) throw new PayloadError(`At most ${MAX_EVENTS_PER_REQUEST} events per request`);
  return parsed.map((e, i) => {
    if (!isObject(e)) throw new PayloadError(`Event ${i} is not an object`);
    return e;
  });
}

function stripe(body: Buffer): ParsedEvent[] {
  const e = parseJson(body);
  if (!isObject(e) || e.object !== 'event') throw new PayloadError('A Stripe webhook body is an event object ("object": "event")');
  const id = text(e.id);
  const type = text(e.type, 100);
  if (!id || !id.startsWith('evt_')) throw new PayloadError('The event has no evt_ id');
  if (!type) throw new PayloadError('The event has no type');
  if (!isObject(e.data) || !isObject(e.data.object)) throw new PayloadError('The event has no data.object');
  return [{ externalEventId: id, eventType: type, occurredAt: epoch(e.created, 1000), body: body.toString('utf8') }];
}

/**
 * HubSpot documents `eventId` as not guaranteed unique, so the deduplication key adds what stays
 * the same when HubSpot retries a notification: subscription, object and property.
 */
export function hubspotEventKey(e: Record<string, unknown>): string | null {
  const eventId = text(e.eventId);
  if (!eventId) return null;
  return [eventId, text(e.subscriptionId) ?? '', text(e.objectId) ?? '', text(e.propertyName) ?? ''].join(':');
}

function hubspot(body: Buffer): ParsedEvent[] {
  return batch(body, 'HubSpot').map((e, i) => {
    const id = hubspotEventKey(e);
    const type = text(e.subscriptionType, 100);
    if (!id || !type) throw new PayloadError(`Event ${i} has no eventId or subscriptionType`);
    return { externalEventId: id, eventType: type, occurredAt: epoch(e.occurredAt, 1), body: JSON.stringify(e) };
  });
}

function sendgrid(body: Buffer): ParsedEvent[] {
  return batch(body, 'SendGrid').map((e, i) => {
    const id = text(e.sg_event_id);
    const type = text(e.event, 100);
    if (!id || !type) throw new PayloadError(`Event ${i} has no sg_event_id or event`);
    return { externalEventId: id, eventType: type, occurredAt: epoch(e.timestamp, 1000), body: JSON.stringify(e) };
  });
}

function generic(body: Buffer, verified: VerifyResult): ParsedEvent[] {
  const e = parseJson(body);
  if (!isObject(e)) throw new PayloadError('A Standard Webhooks body is a JSON object');
  const at = typeof e.timestamp === 'string' ? inRange(new Date(e.timestamp)) : null;
  return [
    {
      externalEventId: verified.messageId!,
      eventType: text(e.type, 100) ?? 'event',
      occurredAt: at ?? new Date(verified.signedAt),
      body: body.toString('utf8'),
    },
  ];
}

/** The provider's events in a verified body; a body that is not that provider's shape is a PayloadError (400). */
export function parseEvents(provider: Provider, body: Buffer, verified: VerifyResult): ParsedEvent[] {
  switch (provider) {
    case Provider.STRIPE:
      return stripe(body);
    case Provider.HUBSPOT:
      return hubspot(body);
    case Provider.SENDGRID:
      return sendgrid(body);
    case Provider.GENERIC:
      return generic(body, verified);
    default:
      throw new PayloadError(`No event format is known for ${String(provider)}`);
  }
}
