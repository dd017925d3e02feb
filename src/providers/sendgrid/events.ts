import { batch, epoch, PayloadError, text, type ParsedEvent } from '../../webhooks/parse.js';

/** A SendGrid Event Webhook body: an array of events, each with its `sg_event_id`. */
export function parseSendgridEvents(body: Buffer): ParsedEvent[] {
  return batch(body, 'SendGrid').map((e, i) => {
    const id = text(e.sg_event_id);
    const type = text(e.event, 100);
    if (!id || !type) throw new PayloadError(`Event ${i} has no sg_event_id or event`);
    return { externalEventId: id, eventType: type, occurredAt: epoch(e.timestamp, 1000), body: JSON.stringify(e) };
  });
}
