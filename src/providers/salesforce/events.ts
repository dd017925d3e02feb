import { inRange, PayloadError, text, type ParsedEvent } from '../../webhooks/parse.js';
import { readOutboundMessage } from './soap.js';

/** What is stored of one notification (the SessionId and callback URLs of the message are not). */
export interface StoredNotification {
  organizationId: string | null;
  actionId: string | null;
  notificationId: string;
  sObjectType: string;
  fields: Record<string, string | null>;
}

/** The record's own change time, when the outbound message includes it: orders changes to one record. */
function changedAt(fields: Record<string, string | null>): Date | null {
  const value = fields.SystemModstamp ?? fields.LastModifiedDate;
  return value ? inRange(new Date(value)) : null;
}

/**
 * One event per Notification, keyed by its notification id: Salesforce redelivers a message
 * (the same ids) until it sees the Ack, for up to 24 hours, and may deliver out of order.
 */
export function parseSalesforceEvents(body: Buffer): ParsedEvent[] {
  const message = readOutboundMessage(body);
  if (message instanceof Error) throw message;
  return message.notifications.map((n, i) => {
    const id = text(n.id);
    if (!id) throw new PayloadError(`Notification ${i} has an Id of more than 255 characters`);
    const stored: StoredNotification = {
      organizationId: message.organizationId,
      actionId: message.actionId,
      notificationId: n.id,
      sObjectType: n.sObjectType,
      fields: n.fields,
    };
    return {
      externalEventId: id,
      eventType: `${n.sObjectType.toLowerCase()}.notification`,
      occurredAt: changedAt(n.fields),
      body: JSON.stringify(stored),
    };
  });
}
