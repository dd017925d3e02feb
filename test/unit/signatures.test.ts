import { generateKeyPairSync, sign } from 'node:crypto';
import { Signature as HubSpotSignature } from '@hubspot/api-client/lib/src/utils/signature.js';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { Provider } from '../../src/domain/integration/integration.entity.js';
import { standardWebhooksSignature } from '../../src/providers/generic/signature.js';
import { hubspotSignatureV3, hubspotUri } from '../../src/providers/hubspot/signature.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { stripeSignature } from '../../src/providers/stripe/signature.js';
import { SignatureError, type SignedRequest } from '../../src/webhooks/signatures.js';

/** Each provider's scheme as the ingress runs it: through the registry. */
const verifyWebhook = (provider: Provider, request: SignedRequest, secrets: string[], nowMs = Date.now()) => PROVIDERS[provider].verify(request, secrets, nowMs);

const req = (headers: Record<string, string>, body: string | Buffer, url = 'https://gw.example.com/webhooks/x', method = 'POST'): SignedRequest => ({
  method,
  url,
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
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

describe('Stripe (Stripe-Signature v1)', () => {
  const body = '{"id":"evt_test_webhook","object":"event"}';
  const secret = 'whsec_test_secret';
  const t = 1492774577;

  it('matches the published vector', () => {
    expect(stripeSignature(secret, t, body)).toBe('88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a');
    const header = `t=${t},v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a`;
    expect(verifyWebhook(Provider.STRIPE, req({ 'Stripe-Signature': header }, body), [secret], t * 1000)).toEqual({ signedAt: t * 1000 });
  });

  it('accepts what stripe-node signs (generateTestHeaderString), and stripe-node accepts what we compute', () => {
    const now = Math.floor(Date.now() / 1000);
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: now });
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), [secret]))).toBe('accepted');
    const ours = `t=${now},v1=${stripeSignature(secret, now, body)}`;
    expect(Stripe.webhooks.constructEvent(body, ours, secret)).toMatchObject({ id: 'evt_test_webhook' });
  });

  it('any one of several v1 values may match; v0 and unknown schemes are ignored', () => {
    const v1 = stripeSignature(secret, t, body);
    const header = `t=${t},v0=${'0'.repeat(64)},v1=${'a'.repeat(64)},v1=${v1},v9=zz`;
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), [secret], t * 1000))).toBe('accepted');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': `t=${t},v0=${v1}` }, body), [secret], t * 1000))).toBe('missing_signature');
  });

  it('refuses a wrong secret, a changed byte, a stale or far-future timestamp, and a missing header', () => {
    const header = `t=${t},v1=${stripeSignature(secret, t, body)}`;
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), ['whsec_other'], t * 1000))).toBe('bad_signature');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body.replace('test', 'tesT')), [secret], t * 1000))).toBe('bad_signature');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), [secret], (t + 301) * 1000))).toBe('stale_timestamp');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), [secret], (t - 301) * 1000))).toBe('stale_timestamp');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({}, body), [secret], t * 1000))).toBe('missing_signature');
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), [], t * 1000))).toBe('no_secret');
  });

  it('during a rotation the old and the new secret both verify', () => {
    const header = `t=${t},v1=${stripeSignature('whsec_old_secret', t, body)}`;
    expect(reason(() => verifyWebhook(Provider.STRIPE, req({ 'stripe-signature': header }, body), ['whsec_new_secret', 'whsec_old_secret'], t * 1000))).toBe('accepted');
  });
});

describe('HubSpot (v3)', () => {
  const secret = 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy';

  it('matches the computed example', () => {
    expect(hubspotSignatureV3(secret, 'POST', 'https://www.example.com/webhook_uri', '{"example_field":"example_value"}', 1700000000000)).toBe(
      'rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o=',
    );
  });

  it('agrees with the official SDK (@hubspot/api-client Signature) both ways', () => {
    const now = Date.now();
    const url = 'https://gw.example.com/webhooks/0190f3a4-0000-7000-8000-000000000001';
    const body = '[{"eventId":7,"subscriptionType":"contact.propertyChange","objectId":123,"propertyName":"firstname","propertyValue":"Zoë","occurredAt":1}]';
    // The known answer above, computed by the SDK too.
    expect(HubSpotSignature.getSignature('POST', 'v3', { signature: '', clientSecret: secret, url: 'https://www.example.com/webhook_uri', requestBody: '{"example_field":"example_value"}', timestamp: 1700000000000 })).toBe(
      'rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o=',
    );
    const ours = hubspotSignatureV3(secret, 'POST', url, body, now);
    expect(HubSpotSignature.isValid({ signatureVersion: 'v3', signature: ours, clientSecret: secret, method: 'POST', url, requestBody: body, timestamp: now })).toBe(true);
    const theirs = HubSpotSignature.getSignature('POST', 'v3', { signature: '', clientSecret: secret, url, requestBody: body, timestamp: now });
    const headers = { 'X-HubSpot-Signature-v3': theirs, 'X-HubSpot-Request-Timestamp': String(now) };
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url), [secret], now))).toBe('accepted');
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url), ['another-app-secret'], now))).toBe('bad_signature');
    // Far in the future is refused as well as too old (the SDK checks only the past).
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url), [secret], now - 300_001))).toBe('stale_timestamp');
  });

  it('verifies method + full URL + body + timestamp, decoding only the listed escapes', () => {
    const now = Date.now();
    const url = 'https://gw.example.com/webhooks/abc?x=a%3Ab%20c';
    expect(hubspotUri(url)).toBe('https://gw.example.com/webhooks/abc?x=a:b%20c');
    const body = '[{"eventId":1,"subscriptionType":"contact.creation","objectId":123,"occurredAt":1}]';
    const headers = { 'X-HubSpot-Signature-v3': hubspotSignatureV3(secret, 'POST', url, body, now), 'X-HubSpot-Request-Timestamp': String(now) };
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url), [secret], now))).toBe('accepted');
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url.replace('abc', 'abd')), [secret], now))).toBe('bad_signature');
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body + ' ', url), [secret], now))).toBe('bad_signature');
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req(headers, body, url), [secret], now + 300_001))).toBe('stale_timestamp');
    // v1 alone (SHA-256 of secret + body) is not accepted.
    expect(reason(() => verifyWebhook(Provider.HUBSPOT, req({ 'X-HubSpot-Signature': 'x', 'X-HubSpot-Signature-Version': 'v1' }, body, url), [secret], now))).toBe(
      'missing_signature',
    );
  });
});

describe('SendGrid (signed event webhook, ECDSA P-256)', () => {
  const publicKey = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==';
  const signature = 'MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=';
  const timestamp = '1600112502';
  const body =
    JSON.stringify([
      {
        email: 'hello@world.com',
        event: 'dropped',
        reason: 'Bounced Address',
        sg_event_id: 'ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA',
        sg_message_id: 'LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0',
        'smtp-id': '<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>',
        timestamp: 1600112492,
      },
    ]) + '\r\n';
  const headers = { 'X-Twilio-Email-Event-Webhook-Signature': signature, 'X-Twilio-Email-Event-Webhook-Timestamp': timestamp };

  it('verifies the published vector, and fails without the trailing CRLF', () => {
    const at = Number(timestamp) * 1000;
    expect(reason(() => verifyWebhook(Provider.SENDGRID, req(headers, body), [publicKey], at))).toBe('accepted');
    expect(reason(() => verifyWebhook(Provider.SENDGRID, req(headers, body.trimEnd()), [publicKey], at))).toBe('bad_signature');
    expect(reason(() => verifyWebhook(Provider.SENDGRID, req(headers, body), [publicKey], at + 301_000))).toBe('stale_timestamp');
  });

  it('what we verify, the official @sendgrid/eventwebhook verifies too (keys made with node:crypto)', () => {
    const { publicKey: pub, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pubB64 = pub.export({ format: 'der', type: 'spki' }).toString('base64');
    const ts = String(Math.floor(Date.now() / 1000));
    const payload = '[{"event":"delivered","sg_event_id":"e1","timestamp":1}]\r\n';
    const sig = sign('sha256', Buffer.from(ts + payload), privateKey).toString('base64');
    const h = { 'x-twilio-email-event-webhook-signature': sig, 'x-twilio-email-event-webhook-timestamp': ts };
    expect(reason(() => verifyWebhook(Provider.SENDGRID, req(h, payload), [pubB64]))).toBe('accepted');
    const official = new EventWebhook();
    expect(official.verifySignature(official.convertPublicKeyToECDSA(pubB64), payload, sig, ts)).toBe(true);
    expect(reason(() => verifyWebhook(Provider.SENDGRID, req(h, payload), [publicKey]))).toBe('bad_signature');
  });
});

describe('GENERIC (Standard Webhooks)', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const ts = 1614265330;
  const body = '{"test": 2432232314}';

  it('matches the published vector', () => {
    expect(standardWebhooksSignature(secret, id, ts, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
    expect(verifyWebhook(Provider.GENERIC, req(headers, body), [secret], ts * 1000)).toEqual({ messageId: id, signedAt: ts * 1000 });
  });

  it('accepts what the standardwebhooks library signs; a bad signature among good ones still verifies; stale and future fail', () => {
    const now = new Date();
    const lib = new Webhook(secret);
    const good = lib.sign(id, now, body);
    const seconds = String(Math.floor(now.getTime() / 1000));
    const headers = { 'webhook-id': id, 'webhook-timestamp': seconds, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${good} v1a,xyz` };
    expect(reason(() => verifyWebhook(Provider.GENERIC, req(headers, body), [secret], now.getTime()))).toBe('accepted');
    expect(reason(() => verifyWebhook(Provider.GENERIC, req(headers, body), [secret], now.getTime() + 301_000))).toBe('stale_timestamp');
    expect(reason(() => verifyWebhook(Provider.GENERIC, req(headers, body), [secret], now.getTime() - 301_000))).toBe('stale_timestamp');
    // A re-serialised body (same JSON, other bytes) fails.
    expect(reason(() => verifyWebhook(Provider.GENERIC, req(headers, JSON.stringify(JSON.parse(body))), [secret], now.getTime()))).toBe('bad_signature');
    // And the library accepts what we sign.
    const ours = standardWebhooksSignature(secret, id, seconds, body);
    expect(lib.verify(body, { 'webhook-id': id, 'webhook-timestamp': seconds, 'webhook-signature': ours })).toEqual({ test: 2432232314 });
  });
});
