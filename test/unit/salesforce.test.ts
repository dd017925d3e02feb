import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Provider } from '../../src/domain/integration/integration.entity.js';
import { apiUsage, REQUEST_LIMIT_HOLD_MS, salesforceError, usageHoldMs } from '../../src/providers/salesforce/api.js';
import { SalesforceFake } from '../../src/providers/salesforce/fake.js';
import type { HttpResponse } from '../../src/providers/http.js';
import { parseSalesforceEvents, type StoredNotification } from '../../src/providers/salesforce/events.js';
import { issueSalesforceSecret, salesforceId18, salesforceUrlQuery } from '../../src/providers/salesforce/signature.js';
import { ACK_ENVELOPE, outboundMessageXml, readOutboundMessage } from '../../src/providers/salesforce/soap.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { PayloadError } from '../../src/webhooks/parse.js';
import { SignatureError, type SignedRequest } from '../../src/webhooks/signatures.js';

const fixture = (name: string) => readFileSync(new URL(`../../src/providers/salesforce/fixtures/${name}`, import.meta.url));
const ORG = '00D000000000062EAA';

const request = (body: Buffer | string, query: string): SignedRequest => ({
  method: 'POST',
  url: `https://gw.example.com/webhooks/0190a9e2-5b1c-7d3e-8f4a-1b2c3d4e5f60${query}`,
  headers: { 'content-type': 'text/xml; charset=utf-8' },
  body: Buffer.isBuffer(body) ? body : Buffer.from(body),
});

const reason = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SignatureError) return err.reason;
    throw err;
  }
  return 'accepted';
};

describe('Salesforce ids', () => {
  it('adds the case checksum to a 15-character id (the published 001A0000006Vm9r example) and checks an 18-character one', () => {
    expect(salesforceId18('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
    expect(salesforceId18('001A0000006Vm9rIAC')).toBe('001A0000006Vm9rIAC');
    // One letter's case changed: the checksum no longer matches.
    expect(salesforceId18('001a0000006Vm9rIAC')).toBeNull();
    expect(salesforceId18('001A0000006Vm9rIAD')).toBeNull();
    expect(salesforceId18('not an id')).toBeNull();
  });

  it('stores an organisation id with a fresh URL token, and refuses what is not one', () => {
    const a = issueSalesforceSecret('00D000000000062');
    const b = issueSalesforceSecret(ORG);
    expect(a.split(':')[0]).toBe(ORG);
    expect(b.split(':')[0]).toBe(ORG);
    expect(a.split(':')[1]).toMatch(/^[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(salesforceUrlQuery(a)).toBe(`?token=${a.split(':')[1]}`);
    expect(() => issueSalesforceSecret('0015e00000Xk2PqAAJ')).toThrow(/organisation id/);
    expect(() => issueSalesforceSecret('whsec_abc')).toThrow(/organisation id/);
  });
});

describe('Outbound Messages (SOAP)', () => {
  it('reads the fixture: organisation, notification id, sObject type, fields with entities decoded and xsi:nil as null', () => {
    const message = readOutboundMessage(fixture('account.notification.xml'));
    if (message instanceof Error) throw message;
    expect(message.organizationId).toBe(ORG);
    expect(message.notifications).toEqual([
      {
        id: '04l5e00000HxLqPAAV',
        sObjectType: 'Account',
        fields: {
          Id: '0015e00000Xk2PqAAJ',
          LastModifiedDate: '2026-11-30T09:15:02.000Z',
          Name: 'Babbage & Lovelace Ltd',
          Phone: '+44 20 7946 0018',
          Switchboard_Id__c: null,
          SystemModstamp: '2026-11-30T09:15:02.000Z',
        },
      },
    ]);
  });

  it('makes one event per notification, keyed by its id, ordered by SystemModstamp; the SessionId is not stored', () => {
    const notifications = Array.from({ length: 3 }, (_, i) => ({
      id: `04l5e00000HxLq${i}AAV`,
      sObjectType: 'Opportunity',
      fields: { Id: `0065e00000Jb7T${i}AAJ`, Name: `Deal ${i} <&>`, SystemModstamp: `2026-11-30T09:2${i}:00.000Z` },
    }));
    const xml = outboundMessageXml({ organizationId: ORG, actionId: '04k5e000000GmaEAAS', notifications }).replace('<SessionId xsi:nil="true"/>', '<SessionId>00D!secret-session</SessionId>');
    const events = parseSalesforceEvents(Buffer.from(xml));
    expect(events.map((e) => [e.externalEventId, e.eventType, e.occurredAt?.toISOString()])).toEqual(
      notifications.map((n) => [n.id, 'opportunity.notification', n.fields.SystemModstamp]),
    );
    const stored = JSON.parse(events[1].body) as StoredNotification;
    expect(stored).toMatchObject({ organizationId: ORG, notificationId: notifications[1].id, sObjectType: 'Opportunity', fields: { Name: 'Deal 1 <&>' } });
    expect(events.map((e) => e.body).join('')).not.toContain('secret-session');
  });

  it('decodes character references but expands no entity: a document type declaration is refused', () => {
    const message = readOutboundMessage(
      Buffer.from(outboundMessageXml({ organizationId: ORG, actionId: 'a', notifications: [{ id: '04l1', sObjectType: 'Account', fields: { Name: 'x' } }] }).replace('<sf:Name>x</sf:Name>', '<sf:Name>Caf&#233; &#x263A; &amp;amp;</sf:Name>')),
    );
    if (message instanceof Error) throw message;
    expect(message.notifications[0].fields.Name).toBe('Café ☺ &amp;');
    const bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications><OrganizationId>&lol2;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>';
    expect(readOutboundMessage(Buffer.from(bomb))).toBeInstanceOf(PayloadError);
  });

  it('refuses bodies that are not Outbound Messages: not XML, no notifications, more than 100, a notification without an sObject', () => {
    const many = outboundMessageXml({ organizationId: ORG, actionId: 'a', notifications: Array.from({ length: 101 }, (_, i) => ({ id: `04l${i}`, sObjectType: 'Account', fields: {} })) });
    for (const body of ['{"not":"xml"}', '<a><b></a>', '<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><other/></soapenv:Body></soapenv:Envelope>', many, fixture('account.notification.xml').toString().replace(/<sObject[\s\S]*<\/sObject>/, '')]) {
      expect(() => parseSalesforceEvents(Buffer.from(body))).toThrow(PayloadError);
    }
  });

  it('acknowledges with the notificationsResponse Ack Salesforce expects', () => {
    expect(ACK_ENVELOPE).toContain('<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>');
    expect(PROVIDERS[Provider.SALESFORCE].acknowledge?.()).toEqual({ contentType: 'text/xml; charset=utf-8', body: ACK_ENVELOPE });
  });
});

describe('Salesforce verification: the URL token, then the organisation', () => {
  const verify = (req: SignedRequest, secrets: string[]) => PROVIDERS[Provider.SALESFORCE].verify(req, secrets, Date.now());
  const secret = issueSalesforceSecret(ORG);
  const query = salesforceUrlQuery(secret);
  const body = fixture('account.notification.xml');

  it('accepts the right token and organisation; refuses a missing or wrong token, another organisation, or none', () => {
    expect(reason(() => verify(request(body, query), [secret]))).toBe('accepted');
    expect(reason(() => verify(request(body, ''), [secret]))).toBe('missing_signature');
    expect(reason(() => verify(request(body, '?token=guess'), [secret]))).toBe('bad_signature');
    expect(reason(() => verify(request(body, query.slice(0, -1)), [secret]))).toBe('bad_signature');
    expect(reason(() => verify(request(body.toString().replaceAll(ORG, salesforceId18('00D000000000063')!), query), [secret]))).toBe('bad_signature');
    expect(reason(() => verify(request(body.toString().replace(/<OrganizationId>.*<\/OrganizationId>/, ''), query), [secret]))).toBe('bad_signature');
    expect(reason(() => verify(request(body, query), []))).toBe('no_secret');
  });

  it('during a rotation, the previous URL verifies with the previous secret; a token never verifies another secret\'s organisation', () => {
    const next = issueSalesforceSecret(ORG);
    expect(reason(() => verify(request(body, query), [next, secret]))).toBe('accepted');
    expect(reason(() => verify(request(body, salesforceUrlQuery(next)), [next, secret]))).toBe('accepted');
    const otherOrg = issueSalesforceSecret('00D000000000063');
    expect(reason(() => verify(request(body, salesforceUrlQuery(otherOrg)), [otherOrg, secret]))).toBe('bad_signature');
  });

  it('leaves a body that is not XML to the parser (400), once the token matched', () => {
    expect(reason(() => verify(request('{"a":1}', query), [secret]))).toBe('accepted');
    expect(() => PROVIDERS[Provider.SALESFORCE].parse(Buffer.from('{"a":1}'), { signedAt: 0 })).toThrow(PayloadError);
  });
});

describe('Sforce-Limit-Info', () => {
  it('reads the org and per-app usage, and spaces calls at the allocation pace past 90 %', () => {
    expect(apiUsage('api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)')).toEqual([
      { used: 25, allowed: 5000 },
      { used: 17, allowed: 250 },
    ]);
    expect(usageHoldMs('api-usage=25/5000')).toBe(0);
    expect(usageHoldMs('api-usage=4500/5000')).toBe(Math.ceil(86_400_000 / 5000));
    // The app's own quota is the tighter one here.
    expect(usageHoldMs('api-usage=100/15000; per-app-api-usage=240/250(appName=x)')).toBe(Math.ceil(86_400_000 / 250));
    expect(usageHoldMs(null)).toBe(0);
  });
});

describe('Salesforce answers, as documented (fixtures) and as the sandbox gives them', () => {
  const answer = (status: number, body: unknown): HttpResponse => ({
    status,
    body,
    headers: { get: () => null },
    exchange: { method: 'PATCH', path: '/x', status, durationMs: 1, request: null, response: null },
  });
  const json = (name: string) => JSON.parse(fixture(name).toString()) as unknown;

  it('REQUEST_LIMIT_EXCEEDED is a rate limit retried after the hold; INVALID_SESSION_ID alone (after a renewal) is auth, final', () => {
    const limit = salesforceError(answer(403, json('request-limit-exceeded.json')), []);
    expect([limit.kind, limit.retryable, limit.retryAfterMs, limit.errorCode]).toEqual(['rate_limited', true, REQUEST_LIMIT_HOLD_MS, 'REQUEST_LIMIT_EXCEEDED']);
    const session = salesforceError(answer(401, json('invalid-session.json')), []);
    expect([session.kind, session.retryable, session.errorCode]).toEqual(['auth', false, 'INVALID_SESSION_ID']);
    const locked = salesforceError(answer(400, [{ errorCode: 'UNABLE_TO_LOCK_ROW', message: 'unable to obtain exclusive access to this record' }]), []);
    expect([locked.kind, locked.retryable]).toEqual(['server', true]);
    const several = salesforceError(answer(300, ['/services/data/v62.0/sobjects/Account/001A', '/services/data/v62.0/sobjects/Account/001B']), []);
    expect([several.kind, several.retryable, several.message]).toEqual(['client', false, expect.stringMatching(/2 records carry this external id/)]);
  });

  it("the sandbox's token answer and session end have the documented shapes", async () => {
    const fake = new SalesforceFake();
    const res = await fake.handle({ at: 0, answeredAt: null, method: 'POST', path: '/services/oauth2/token', headers: {}, body: 'grant_type=client_credentials&client_id=3MVG9sandbox.Switchboard.Connected.App&client_secret=sandbox-consumer-secret-0123456789ABCDEF', status: null });
    expect(Object.keys(res.body as object).sort()).toEqual(Object.keys(json('token.json') as object).sort());
    fake.expireSessions();
    const refused = await fake.handle({ at: 0, answeredAt: null, method: 'GET', path: '/services/data/v62.0/query?q=x', headers: { authorization: `Bearer ${(res.body as { access_token: string }).access_token}` }, body: '', status: null });
    expect([refused.status, refused.body]).toEqual([401, json('invalid-session.json')]);
  });
});
