import { batch, epoch, PayloadError, text, type ParsedEvent } from '../../webhooks/parse.js';

/**
 * HubSpot documents `eventId` as not guaranteed unique, so the deduplication key adds what stays
 * the same when HubSpot retries a notification: subscription, object and property.
 */
export function hubspotEventKey(e: Record<string, unknown>): string | null {
  const eventId = text(e.eventId);
  if (!eventId) return null;
  return [eventId, text(e.subscriptionId) ?? '', text(e.objectId) ?? '', text(e.propertyName) ?? ''].join(':');
}

export function parseHubspotEvents(body: Buffer): ParsedEvent[] {
  return batch(body, 'HubSpot').map((e, i) => {
    const id = hubspotEventKey(e);
    const type = text(e.subscriptionType, 100);
    if (!id || !type) throw new PayloadError(`Event ${i} has no eventId or subscriptionType`);
    return { externalEventId: id, eventType: type, occurredAt: epoch(e.occurredAt, 1), body: JSON.stringify(e) };
  });
}
