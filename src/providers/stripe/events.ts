import { epoch, isObject, parseJson, PayloadError, text, type ParsedEvent } from '../../webhooks/parse.js';

/** A Stripe webhook body: one `event` object. */
export function parseStripeEvents(body: Buffer): ParsedEvent[] {
  const e = parseJson(body);
  if (!isObject(e) || e.object !== 'event') throw new PayloadError('A Stripe webhook body is an event object ("object": "event")');
  const id = text(e.id);
  const type = text(e.type, 100);
  if (!id || !id.startsWith('evt_')) throw new PayloadError('The event has no evt_ id');
  if (!type) throw new PayloadError('The event has no type');
  if (!isObject(e.data) || !isObject(e.data.object)) throw new PayloadError('The event has no data.object');
  return [{ externalEventId: id, eventType: type, occurredAt: epoch(e.created, 1000), body: body.toString('utf8') }];
}
