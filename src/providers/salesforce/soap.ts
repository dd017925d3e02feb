import { XMLParser } from 'fast-xml-parser';
import { PayloadError } from '../../webhooks/parse.js';

/**
 * Salesforce Outbound Messages: SOAP 1.1 `notifications` calls (namespace
 * http://soap.sforce.com/2005/09/outbound) holding up to 100 `Notification`s, each a notification
 * id and the sObject's fields as the workflow's outbound message selected them. Read here once
 * per request body: the verifier needs the OrganizationId, the parser the notifications.
 */

/** One notification: its id (the deduplication key) and the record as sent. */
export interface OutboundNotification {
  id: string;
  /** The sObject type, from `xsi:type="sf:Account"`. */
  sObjectType: string;
  /** Scalar fields by API name; null where Salesforce sent xsi:nil. Related objects are left out. */
  fields: Record<string, string | null>;
}

export interface OutboundMessage {
  organizationId: string | null;
  actionId: string | null;
  notifications: OutboundNotification[];
}

/** Salesforce sends at most 100 notifications in one message. */
export const MAX_NOTIFICATIONS = 100;

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Values stay text: ids, phone numbers with leading zeros and amounts are not numbers to guess at.
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Only XML's own escapes are decoded (decodeXml); entity declarations are never expanded.
  processEntities: false,
  isArray: (_name, jpath) => String(jpath).endsWith('notifications.Notification'),
});

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** XML's predefined entities and character references; anything else is left as written. */
function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (whole, ref: string) => {
    if (ref[0] !== '#') return NAMED[ref];
    const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) && code !== 0 ? String.fromCodePoint(code) : whole;
  });
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A leaf's text; null for xsi:nil or an empty element; undefined for a nested element (a related record). */
function leaf(value: unknown): string | null | undefined {
  if (typeof value === 'string') return value === '' ? null : decodeXml(value);
  if (!isNode(value)) return undefined;
  if (value['@_nil'] === 'true') return null;
  const text = value['#text'];
  const children = Object.keys(value).filter((k) => !k.startsWith('@_') && k !== '#text');
  if (children.length > 0) return undefined;
  return typeof text === 'string' && text !== '' ? decodeXml(text) : null;
}

function parseMessage(body: Buffer): OutboundMessage {
  const text = body.toString('utf8');
  // SOAP 1.1 forbids a document type declaration; refusing it also rules out entity expansion.
  if (/<!DOCTYPE/i.test(text)) throw new PayloadError('A SOAP message must not contain a document type declaration');
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new PayloadError('The body is not well-formed XML');
  }
  const envelope = isNode(doc) ? doc.Envelope : undefined;
  const notifications = isNode(envelope) && isNode(envelope.Body) ? envelope.Body.notifications : undefined;
  if (!isNode(notifications)) throw new PayloadError('A Salesforce Outbound Message is a SOAP Envelope whose Body holds notifications');
  const list = (notifications.Notification as unknown[] | undefined) ?? [];
  if (list.length === 0) throw new PayloadError('The message holds no Notification');
  if (list.length > MAX_NOTIFICATIONS) throw new PayloadError(`At most ${MAX_NOTIFICATIONS} notifications per message`);
  return {
    organizationId: leaf(notifications.OrganizationId) ?? null,
    actionId: leaf(notifications.ActionId) ?? null,
    notifications: list.map((n, i) => {
      const id = isNode(n) ? leaf(n.Id) : undefined;
      const sObject = isNode(n) ? n.sObject : undefined;
      if (!id || !isNode(sObject)) throw new PayloadError(`Notification ${i} has no Id or no sObject`);
      const type = typeof sObject['@_type'] === 'string' ? sObject['@_type'].split(':').pop()! : '';
      if (!/^[A-Za-z][A-Za-z0-9_]{0,79}$/.test(type)) throw new PayloadError(`Notification ${i}'s sObject has no xsi:type`);
      const fields: Record<string, string | null> = {};
      for (const [name, value] of Object.entries(sObject)) {
        if (name.startsWith('@_')) continue;
        const v = leaf(value);
        if (v !== undefined) fields[name] = v;
      }
      return { id, sObjectType: type, fields };
    }),
  };
}

/** Parsed once per request body (the verifier, then the parser), by identity of the Buffer. */
const parsed = new WeakMap<Buffer, OutboundMessage | PayloadError>();

/** The Outbound Message in a request body, or the PayloadError that says why it is not one. */
export function readOutboundMessage(body: Buffer): OutboundMessage | PayloadError {
  let result = parsed.get(body);
  if (!result) {
    try {
      result = parseMessage(body);
    } catch (err) {
      if (!(err instanceof PayloadError)) throw err;
      result = err;
    }
    parsed.set(body, result);
  }
  return result;
}

/** The acknowledgement Salesforce needs to stop delivering a message (anything else is retried for 24 h). */
export const ACK_ENVELOPE =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>' +
  '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>' +
  '</soapenv:Body></soapenv:Envelope>';

/** An Outbound Message as Salesforce sends it (the sandbox's fake, fixtures). */
export function outboundMessageXml(message: { organizationId: string; actionId: string; notifications: OutboundNotification[] }): string {
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const notifications = message.notifications
    .map((n) => {
      const fields = Object.entries(n.fields)
        .map(([k, v]) => (v === null ? `<sf:${k} xsi:nil="true"/>` : `<sf:${k}>${escape(v)}</sf:${k}>`))
        .join('');
      return `<Notification><Id>${escape(n.id)}</Id><sObject xsi:type="sf:${n.sObjectType}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">${fields}</sObject></Notification>`;
    })
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">' +
    `<OrganizationId>${escape(message.organizationId)}</OrganizationId><ActionId>${escape(message.actionId)}</ActionId>` +
    '<SessionId xsi:nil="true"/>' +
    '<EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0</EnterpriseUrl><PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0</PartnerUrl>' +
    notifications +
    '</notifications></soapenv:Body></soapenv:Envelope>'
  );
}
