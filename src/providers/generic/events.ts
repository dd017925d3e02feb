import type { VerifyResult } from '../../webhooks/signatures.js';
import { inRange, isObject, parseJson, PayloadError, text, type ParsedEvent } from '../../webhooks/parse.js';

/** A Standard Webhooks body: one JSON object; its id is the signed `webhook-id` header. */
export function parseGenericEvents(body: Buffer, verified: VerifyResult): ParsedEvent[] {
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
