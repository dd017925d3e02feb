import { describe, expect, it } from 'vitest';
import { Provider } from '../../src/domain/integration/integration.entity.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { PayloadError } from '../../src/webhooks/parse.js';

const verified = { signedAt: Date.parse('2026-11-22T00:00:00Z'), messageId: 'msg_1' };
/** Each provider's format as the ingress reads it: through the registry. */
const parse = (provider: Provider, body: unknown) => PROVIDERS[provider].parse(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), verified);

describe('provider payloads to events', () => {
  it('HubSpot: eventId is not unique on its own; the key adds subscription, object and property', () => {
    const events = parse(Provider.HUBSPOT, [
      { eventId: 7, subscriptionId: 1, objectId: 10, subscriptionType: 'contact.propertyChange', propertyName: 'firstname', occurredAt: 1 },
      { eventId: 7, subscriptionId: 1, objectId: 11, subscriptionType: 'contact.propertyChange', propertyName: 'firstname', occurredAt: 1 },
      { eventId: 7, subscriptionId: 2, objectId: 10, subscriptionType: 'contact.creation', occurredAt: 1 },
    ]);
    expect(new Set(events.map((e) => e.externalEventId)).size).toBe(3);
    // A retry (attemptNumber changes) keeps its key.
    const [again] = parse(Provider.HUBSPOT, [{ eventId: 7, subscriptionId: 1, objectId: 10, subscriptionType: 'contact.propertyChange', propertyName: 'firstname', occurredAt: 1, attemptNumber: 3 }]);
    expect(again.externalEventId).toBe(events[0].externalEventId);
  });

  it('times outside years 1 to 9999 become null instead of failing the batch they are stored with', () => {
    const [stripe] = parse(Provider.STRIPE, { id: 'evt_1', object: 'event', type: 'customer.updated', created: 1e13, data: { object: {} } });
    expect(stripe.occurredAt).toBeNull();
    const [generic] = parse(Provider.GENERIC, { type: 'x', timestamp: '+010000-01-01T00:00:00Z' });
    expect(generic.occurredAt).toEqual(new Date(verified.signedAt));
    const [sendgrid] = parse(Provider.SENDGRID, [{ sg_event_id: 'a', event: 'delivered', timestamp: 1763800020 }]);
    expect(sendgrid.occurredAt).toEqual(new Date(1763800020 * 1000));
  });

  it('refuses what is not the provider shape, and ids or types PostgreSQL cannot store', () => {
    expect(() => parse(Provider.STRIPE, '[1]')).toThrow(PayloadError);
    expect(() => parse(Provider.STRIPE, { id: 'evt_1', object: 'event', type: 'a\u0000b', data: { object: {} } })).toThrow(PayloadError);
    expect(() => parse(Provider.SENDGRID, [{ sg_event_id: 'a\u0000', event: 'delivered' }])).toThrow(PayloadError);
    // A lone surrogate cannot pass through jsonb; a pair (an emoji) can.
    expect(() => parse(Provider.STRIPE, { id: 'evt_1', object: 'event', type: 'customer.\ud800', data: { object: {} } })).toThrow(PayloadError);
    expect(() => parse(Provider.SENDGRID, [{ sg_event_id: 'x\udc00', event: 'delivered' }])).toThrow(PayloadError);
    expect(parse(Provider.STRIPE, { id: 'evt_\ud83d\ude00', object: 'event', type: 'customer.updated', data: { object: {} } })[0].externalEventId).toBe('evt_\ud83d\ude00');
    expect(() => parse(Provider.HUBSPOT, [])).toThrow(/no events/);
    expect(() => parse(Provider.HUBSPOT, '{"eventId":1}')).toThrow(/JSON array/);
  });
});
