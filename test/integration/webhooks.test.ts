import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Customer } from '../../src/domain/customer/customer.entity.js';
import type { Invoice } from '../../src/domain/invoice/invoice.entity.js';
import type { IntegrationLog } from '../../src/domain/job/integration-log.entity.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { hubspotEventKey } from '../../src/providers/hubspot/events.js';
import type { StripeState } from '../../src/providers/stripe/fake.js';
import {
  CreateCustomerDocument,
  CreateIntegrationDocument,
  CreateInvoiceDocument,
  CustomerWithRefsDocument,
  InboundLogsDocument,
  InvoiceDocument,
  NotificationJobDocument,
  PauseIntegrationDocument,
  ReplayWebhookEventDocument,
  CreateApiKeyDocument,
  ResumeIntegrationDocument,
  RotateIntegrationSecretDocument,
  SendInvoiceDocument,
  SendNotificationDocument,
  WebhookEventsDocument,
} from '../generated/graphql.js';
import { codes, startTestGateway, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { HUBSPOT_TOKEN, rowId, SENDGRID_KEY, STRIPE_KEY, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { subscribe } from '../support/subscriptions.js';
import {
  fixture,
  hubspotHeaders,
  newWhsec,
  nowSeconds,
  post,
  postChunked,
  sendgridHeaders,
  sendgridKeys,
  standardHeaders,
  stripeHeaders,
  waitProcessed,
} from '../support/webhooks.js';

let t: TestGateway;
let sandbox: Sandbox;
const STRIPE_SECRET = 'whsec_' + 'c3dpdGNoYm9hcmQtdGVzdC1zZWNyZXQ';
/** The Stripe secret after the rotation test. */
const ROTATED_SECRET = 'whsec_' + 'cm90YXRlZC1zd2l0Y2hib2FyZC1zZWNyZXQ';
const HUBSPOT_SECRET = 'hubspot-app-client-secret-0123456789';
const GENERIC_SECRET = newWhsec();
const sendgrid = sendgridKeys();
const integration = { stripe: { id: '', row: '', url: '' }, hubspot: { id: '', row: '', url: '' }, sendgrid: { id: '', row: '', url: '' }, generic: { id: '', row: '', url: '' } };

/** Inbound queue entries not yet done that name this event. */
const liveInboundEntries = async (eventId: string) =>
  (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'inbound' AND state < 'completed' AND data->'eventIds' ? $1`, [eventId]))[0].n;
/** Inbound queue entries in any state that name this event. */
const inboundEntries = async (eventId: string) =>
  (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'inbound' AND data->'eventIds' ? $1`, [eventId]))[0].n;

let seq = 0;
/** A Stripe event from a fixture, with a fresh event id (and object id when given). */
function stripeEvent(name: string, patch: (e: any) => void = () => {}): { id: string; body: string } {
  const e = fixture('stripe', name);
  e.id = `evt_${Date.now().toString(36)}${(seq++).toString(36)}x${Math.random().toString(36).slice(2, 8)}`;
  e.created = nowSeconds();
  patch(e);
  return { id: e.id, body: JSON.stringify(e) };
}

/** A new customer's invoice of 125.00 USD, sent through the Stripe sandbox (sendInvoice, job done), and the sandbox's copy. */
async function sentInvoice(name: string) {
  const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com` } });
  const { createInvoice } = await t.run(CreateInvoiceDocument, {
    input: { customerId: createCustomer.customer.id, currency: 'USD', lineItems: [{ description: 'Plan', quantity: 1, unitAmount: '125.00' }] },
  });
  const { sendInvoice } = await t.run(SendInvoiceDocument, { invoiceId: createInvoice.invoice.id, integrationId: integration.stripe.id });
  await waitForJobs(t, [sendInvoice.job.id]);
  const stripeInvoice = Object.values(sandbox.stripe.state<StripeState>().invoices).find((i: any) => i.metadata?.switchboard_id === rowId(createInvoice.invoice.id)) as any;
  return { createCustomer, createInvoice, stripeInvoice };
}

const postStripe = (body: string, secret = STRIPE_SECRET, ts?: number) => post(integration.stripe.url, body, stripeHeaders(body, secret, ts));

/**
 * Until the processor has fetched past every job queued so far: a Stripe event, received now, has
 * been processed. The fair fetch considers every integration's waiting jobs in one statement.
 */
async function untilFetchedPast() {
  const { id, body } = stripeEvent('invoice.paid', (e) => {
    e.data.object.id = `in_marker${Date.now()}`;
  });
  expect((await postStripe(body)).status).toBe(200);
  await waitProcessed(t, integration.stripe.row, [id]);
}
const countEvents = async (row: string) => Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM webhook_event WHERE integration_id = $1', [row]))[0].n);

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ WEBHOOK_RETRY_LIMIT: '1', WEBHOOK_RETRY_DELAY_SECONDS: '1' });
  const make = async (key: keyof typeof integration, provider: 'STRIPE' | 'HUBSPOT' | 'SENDGRID' | 'GENERIC', baseUrl: string, credentials: Record<string, unknown>, webhookSecret: string) => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider, name: `${provider} webhooks`, baseUrl, credentials, webhookSecret, settings: { timeoutMs: 1000, retryBaseDelayMs: 20, retryMaxDelayMs: 100, matchCustomersByEmail: true } },
    });
    integration[key] = { id: createIntegration.integration.id, row: rowId(createIntegration.integration.id), url: createIntegration.integration.webhookUrl };
  };
  await make('stripe', 'STRIPE', sandbox.stripe.url, { apiKey: STRIPE_KEY }, STRIPE_SECRET);
  await make('hubspot', 'HUBSPOT', sandbox.hubspot.url, { accessToken: HUBSPOT_TOKEN }, HUBSPOT_SECRET);
  await make('sendgrid', 'SENDGRID', sandbox.sendgrid.url, { apiKey: SENDGRID_KEY }, sendgrid.publicKey);
  await make('generic', 'GENERIC', 'https://hooks.example.com', { headers: {} }, GENERIC_SECRET);
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

describe('POST /webhooks/:integrationId answers as the contract says', () => {
  it('a valid event: 200 after it is stored, then processed; the request leaves one INBOUND SUCCESS log row', async () => {
    const email = `grace.${Date.now()}@example.com`;
    const { id, body } = stripeEvent('customer.created', (e) => {
      e.data.object.id = `cus_new${Date.now()}`;
      e.data.object.email = email;
    });
    const res = await postStripe(body);
    expect(res).toEqual({ status: 200, body: { received: true, duplicate: false, events: 1, duplicates: 0 } });
    // Committed before the answer: the row is there the moment the 200 arrives.
    const [stored] = await t.sql<{ body: string; event_type: string }>('SELECT body, event_type FROM webhook_event WHERE external_event_id = $1', [id]);
    expect(stored).toEqual({ body, event_type: 'customer.created' });
    const [processed] = await waitProcessed(t, integration.stripe.row, [id]);
    expect(processed.status).toBe('PROCESSED');
    const [customer] = await t.sql<{ name: string; phone: string }>('SELECT name, phone FROM customer WHERE lower(email) = $1', [email]);
    expect(customer).toEqual({ name: 'Grace Hopper', phone: '+1 555 0199' });
    const logs = await t.sql<{ status: string; event_type: string; http_status: number | null }>(
      `SELECT status, event_type, http_status FROM integration_log WHERE webhook_event_id = $1 AND direction = 'INBOUND' ORDER BY id`,
      [processed.id],
    );
    expect(logs).toEqual([
      { status: 'SUCCESS', event_type: 'customer.created', http_status: 200 },
      { status: 'SUCCESS', event_type: 'customer.created', http_status: null },
    ]);
  });

  it('a body holding quotes, backslashes and the writer\'s dollar-quote tags is stored byte for byte, and processed', async () => {
    // The group commit inlines each batch's JSON as a dollar-quoted literal: these must not end it.
    const { id, body } = stripeEvent('customer.created', (e) => {
      e.data.object.id = `cus_quote${Date.now()}`;
      e.data.object.email = `quote.${Date.now()}@example.com`;
      e.data.object.metadata = { note: `it's "$j$" and $j0$, a \\ backslash, $$ and a closing $j` };
    });
    const res = await postStripe(body);
    expect(res.status).toBe(200);
    const [stored] = await t.sql<{ body: string }>('SELECT body FROM webhook_event WHERE external_event_id = $1', [id]);
    expect(stored.body).toBe(body);
    const [processed] = await waitProcessed(t, integration.stripe.row, [id]);
    expect(processed.status).toBe('PROCESSED');
  });

  it('missing header, wrong secret, stale or far-future timestamp, a changed byte: 401; not JSON: 400; each is counted and stores nothing but at most one sampled FAILED log row', async () => {
    const before = await countEvents(integration.stripe.row);
    const rejectedRows = async () =>
      t.sql<{ error_msg: string; request: unknown; response: unknown }>(
        `SELECT error_msg, request, response FROM integration_log WHERE integration_id = $1 AND event_type = 'webhook.rejected' AND status = 'FAILED'`,
        [integration.stripe.row],
      );
    const rejectedBefore = (await rejectedRows()).length;
    const rejectedMetric = async () =>
      [...(await scrapeMetrics(t.url, t.adminKey)).matchAll(/switchboard_webhook_rejected_total\{[^}]*integration="([^"]+)"[^}]*\} (\d+)/g)]
        .filter((m) => m[1] === integration.stripe.row)
        .reduce((n, m) => n + Number(m[2]), 0);
    const countedBefore = await rejectedMetric();
    const published: IntegrationLog[] = [];
    const unsubscribe = t.gateway.services.events.subscribe('log.added', (l) => {
      if (l.integrationId === integration.stripe.row && l.eventType === 'webhook.rejected') published.push(l);
    });
    const { body } = stripeEvent('customer.created');
    const cases: Array<[string, Promise<{ status: number; body: any }>, number, string]> = [
      ['missing header', post(integration.stripe.url, body, { 'content-type': 'application/json' }), 401, 'missing_signature'],
      ['wrong secret', postStripe(body, 'whsec_not_the_secret'), 401, 'bad_signature'],
      ['stale timestamp', postStripe(body, STRIPE_SECRET, nowSeconds() - 301), 401, 'stale_timestamp'],
      ['far-future timestamp', postStripe(body, STRIPE_SECRET, nowSeconds() + 3600), 401, 'stale_timestamp'],
      ['one byte changed', post(integration.stripe.url, body.replace('Grace', 'Grade'), stripeHeaders(body, STRIPE_SECRET)), 401, 'bad_signature'],
      ['not JSON', postStripe('{"id":"evt_1", not json'), 400, 'bad_payload'],
      ['not an event', postStripe('{"object":"customer","id":"cus_1"}'), 400, 'bad_payload'],
      // A lone surrogate in the type could never be stored (jsonb refuses it): 400, not a 503 retried forever.
      ['lone surrogate', postStripe('{"id":"evt_lone","object":"event","type":"customer.\\ud800","created":1,"data":{"object":{}}}'), 400, 'bad_payload'],
    ];
    for (const [name, pending, status, reason] of cases) {
      const res = await pending;
      expect(res.status, name).toBe(status);
      expect(res.body.reason, name).toBe(reason);
    }
    expect(await countEvents(integration.stripe.row)).toBe(before);
    // Every rejection is counted; rows are sampled (at most one per integration a minute), and
    // hold no secret, signature or body.
    expect((await rejectedMetric()) - countedBefore).toBe(cases.length);
    const rows = await until(async () => {
      const now = await rejectedRows();
      return now.length - rejectedBefore === published.length ? now : null;
    });
    expect(rows.length - rejectedBefore).toBeLessThanOrEqual(1);
    const logged = JSON.stringify(rows);
    expect(logged).not.toContain(STRIPE_SECRET);
    expect(logged).not.toContain('v1=');
    expect(logged).not.toContain('Grace');
    // Each row was also published to integrationLogAdded subscribers, once, as the row reads.
    unsubscribe();
    const ids = (await t.sql<{ id: string; service: string }>(`SELECT id, service FROM integration_log WHERE id = ANY($1)`, [published.map((l) => l.id)]));
    expect(ids).toHaveLength(published.length);
    expect(ids.every((r) => r.service === 'stripe')).toBe(true);
    expect(published.every((l) => l.service === 'stripe' && l.status === 'FAILED' && l.direction === 'INBOUND')).toBe(true);
  });

  it('HubSpot, SendGrid and Standard Webhooks requests with a wrong key, a stale or far-future timestamp or a changed byte: 401, nothing stored', async () => {
    const stored = async () => Number((await t.sql<{ n: string }>('SELECT count(*) AS n FROM webhook_event WHERE integration_id = ANY($1)', [[integration.hubspot.row, integration.sendgrid.row, integration.generic.row]]))[0].n);
    const before = await stored();
    const hubspotBody = JSON.stringify(fixture('hubspot', 'contact.creation'));
    const hubspot = (body: string, secret: string, ts?: number) => post(integration.hubspot.url, body, hubspotHeaders(integration.hubspot.url, hubspotBody, secret, ts));
    const sendgridBody = JSON.stringify(fixture('sendgrid', 'bounce')) + '\r\n';
    const otherKey = sendgridKeys();
    const genericBody = JSON.stringify(fixture('generic', 'invoice.paid'));
    const generic = (body: string, secret: string, ts?: number) => post(integration.generic.url, body, standardHeaders('msg_reject_1', genericBody, secret, ts));
    const cases: Array<[string, Promise<{ status: number; body: any }>, string]> = [
      ['HubSpot: other app secret', hubspot(hubspotBody, 'another-app-secret'), 'bad_signature'],
      ['HubSpot: 6 minutes old', hubspot(hubspotBody, HUBSPOT_SECRET, Date.now() - 360_000), 'stale_timestamp'],
      ['HubSpot: 6 minutes ahead', hubspot(hubspotBody, HUBSPOT_SECRET, Date.now() + 360_000), 'stale_timestamp'],
      ['HubSpot: one byte changed', hubspot(hubspotBody.replace('123', '124'), HUBSPOT_SECRET), 'bad_signature'],
      ['SendGrid: another key pair', post(integration.sendgrid.url, sendgridBody, sendgridHeaders(sendgridBody, otherKey.privateKey)), 'bad_signature'],
      ['SendGrid: stale', post(integration.sendgrid.url, sendgridBody, sendgridHeaders(sendgridBody, sendgrid.privateKey, nowSeconds() - 301)), 'stale_timestamp'],
      ['Standard Webhooks: other secret', generic(genericBody, newWhsec()), 'bad_signature'],
      ['Standard Webhooks: far future', generic(genericBody, GENERIC_SECRET, nowSeconds() + 360), 'stale_timestamp'],
      ['Standard Webhooks: one byte changed', generic(genericBody.replace('INV-', 'INW-'), GENERIC_SECRET), 'bad_signature'],
    ];
    for (const [name, pending, reason] of cases) {
      const res = await pending;
      expect(res.status, name).toBe(401);
      expect(res.body.reason, name).toBe(reason);
    }
    expect(await stored()).toBe(before);
  });

  it('a 2 MiB body is 413 and an unknown integration 404; neither stores anything', async () => {
    const logsBefore = (await t.sql('SELECT id FROM integration_log')).length;
    const big = JSON.stringify({ id: 'evt_big', object: 'event', type: 'customer.created', data: { object: { pad: 'x'.repeat(2 * 1024 * 1024) } } });
    const tooBig = await postStripe(big);
    expect(tooBig.status).toBe(413);
    // Without a Content-Length (chunked), the running count stops it.
    expect(await postChunked(integration.stripe.url, big, stripeHeaders(big, STRIPE_SECRET))).toBe(413);
    const unknown = await post(integration.stripe.url.replace(integration.stripe.row, '00000000-0000-7000-8000-000000000000'), '{}', stripeHeaders('{}', STRIPE_SECRET));
    expect(unknown.status).toBe(404);
    const notAnId = await post(integration.stripe.url.replace(integration.stripe.row, 'nope'), '{}', stripeHeaders('{}', STRIPE_SECRET));
    expect(notAnId.status).toBe(404);
    // A malformed escape in the path is a 404 too (it once crashed the process).
    const badEscape = await post(`${t.url}/webhooks/%E0%A4%A`, '{}', stripeHeaders('{}', STRIPE_SECRET));
    expect(badEscape.status).toBe(404);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await t.sql('SELECT id FROM integration_log')).length).toBe(logsBefore);
  });

  it('the same event posted 20 times at once: one row, one canonical change, 19 answers say duplicate', async () => {
    const email = `twenty.${Date.now()}@example.com`;
    const { id, body } = stripeEvent('customer.created', (e) => {
      e.data.object.id = `cus_twenty${Date.now()}`;
      e.data.object.email = email;
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => postStripe(body)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    expect(answers.filter((a) => a.body.duplicate === true)).toHaveLength(19);
    expect(await t.sql('SELECT id FROM webhook_event WHERE external_event_id = $1', [id])).toHaveLength(1);
    await waitProcessed(t, integration.stripe.row, [id]);
    expect(await t.sql('SELECT version FROM customer WHERE lower(email) = $1', [email])).toEqual([{ version: 1 }]);
    // Posted again after processing: still a duplicate, still one customer.
    expect((await postStripe(body)).body.duplicate).toBe(true);
  });

  it('during a secret rotation the old and the new secret both verify', async () => {
    const next = ROTATED_SECRET;
    await t.run(RotateIntegrationSecretDocument, { id: integration.stripe.id, webhookSecret: next });
    await until(async () => (await postStripe(stripeEvent('customer.deleted').body, next)).status === 200, 5_000);
    expect((await postStripe(stripeEvent('customer.deleted').body, STRIPE_SECRET)).status).toBe(200);
    expect((await postStripe(stripeEvent('customer.deleted').body, 'whsec_neither')).status).toBe(401);
  });

  it('a paused integration stores its events (2xx); they wait, and are processed on resume', async () => {
    await t.run(PauseIntegrationDocument, { id: integration.generic.id });
    const body = JSON.stringify(fixture('generic', 'invoice.paid'));
    const msgId = `msg_paused${Date.now()}`;
    await until(async () => {
      // The ingress caches the integration for a second; a pause is only about processing anyway.
      const res = await post(integration.generic.url, body, standardHeaders(msgId, body, GENERIC_SECRET));
      return res.status === 200;
    }, 5_000);
    // Nothing processes it while paused: the processor passes its job over (an event of another
    // integration, received after it, is processed meanwhile), and it waits RECEIVED, its job queued.
    const [{ id }] = await t.sql<{ id: string }>('SELECT id FROM webhook_event WHERE external_event_id = $1', [msgId]);
    await untilFetchedPast();
    expect(await t.sql('SELECT status FROM webhook_event WHERE external_event_id = $1', [msgId])).toEqual([{ status: 'RECEIVED' }]);
    expect(await liveInboundEntries(id)).toBe(1);
    await t.run(ResumeIntegrationDocument, { id: integration.generic.id });
    const [row] = await waitProcessed(t, integration.generic.row, [msgId]);
    expect(row.status).toBe('IGNORED');
    const { webhookEvents } = await t.run(WebhookEventsDocument, { filter: { integrationId: integration.generic.id, externalEventId: msgId } });
    expect(webhookEvents.edges[0].node).toMatchObject({ eventType: 'invoice.paid', status: 'IGNORED', attempts: 1, integration: { provider: 'GENERIC' } });
  });
  it('a waiting event whose newest queue entry completed or is gone is queued again by the orphan sweep and processed; one whose newest entry spent its retries becomes FAILED', async () => {
    await t.run(PauseIntegrationDocument, { id: integration.generic.id });
    const body = JSON.stringify(fixture('generic', 'invoice.paid'));
    const stamp = Date.now();
    const ids: string[] = [];
    for (const msgId of [`msg_orphan${stamp}`, `msg_spent${stamp}`, `msg_retried${stamp}`]) {
      await until(async () => (await post(integration.generic.url, body, standardHeaders(msgId, body, GENERIC_SECRET))).status === 200, 5_000);
      const [{ id }] = await t.sql<{ id: string }>('SELECT id FROM webhook_event WHERE external_event_id = $1', [msgId]);
      ids.push(id);
    }
    // Passed over while paused, their jobs wait; as if each had been fetched just before the pause
    // and settled without applying its event (what the processor does when it finds the integration paused).
    await untilFetchedPast();
    await t.sql(`UPDATE pgboss.job SET state = 'completed', completed_on = now() WHERE name = 'inbound' AND state < 'active' AND data->'eventIds' ?| $1`, [ids]);
    const [orphan, spent, retried] = ids;
    // As if the integration had been resumed and the re-queue of its waiting events lost: ACTIVE,
    // the events minutes old, only a completed entry naming the first; the second's entry failed
    // (its retries spent, as when a worker died on its last attempt).
    await t.sql(`UPDATE pgboss.job SET state = 'failed' WHERE name = 'inbound' AND data->'eventIds' ? $1`, [spent]);
    // The third had a failed entry too, but an older one: it was replayed since (its newest entry
    // completed while the integration was paused), so it is queued again, not marked FAILED.
    await t.sql(
      `CREATE TEMP TABLE older_entry AS SELECT * FROM pgboss.job WHERE name = 'inbound' AND data->'eventIds' ? '${retried}';
       UPDATE older_entry SET id = gen_random_uuid(), state = 'failed', created_on = created_on - interval '30 seconds';
       INSERT INTO pgboss.job SELECT * FROM older_entry;
       DROP TABLE older_entry`,
    );
    await t.sql(`UPDATE integration SET status = 'ACTIVE' WHERE id = $1`, [integration.generic.row]);
    await t.sql(`UPDATE webhook_event SET received_at = now() - interval '2 minutes' WHERE id = ANY($1)`, [ids]);
    const spentEntries = await inboundEntries(spent);

    const swept = await t.gateway.services.webhooks.sweepWaiting();
    expect(swept.requeued).toBeGreaterThanOrEqual(2);
    expect(swept.failed).toBeGreaterThanOrEqual(1);
    const processed = await waitProcessed(t, integration.generic.row, [`msg_orphan${stamp}`, `msg_retried${stamp}`]);
    expect(processed.map((r) => r.status)).toEqual(['IGNORED', 'IGNORED']);
    // The spent one is not queued again: it becomes FAILED, for an operator (replayWebhookEvent).
    expect(await t.sql('SELECT status, error FROM webhook_event WHERE id = $1', [spent])).toEqual([
      { status: 'FAILED', error: expect.stringMatching(/spent its retries/) },
    ]);
    expect(await inboundEntries(spent)).toBe(spentEntries);
    // Settled, the first is left alone by the next sweep: no entry is added for it.
    const entries = await inboundEntries(orphan);
    await t.gateway.services.webhooks.sweepWaiting();
    expect(await inboundEntries(orphan)).toBe(entries);
  });
});

describe('identity, ownership and order', () => {
  it('a HubSpot contact is matched by email to the customer; its name change reaches the customer; a Stripe name change is a logged conflict', async () => {
    const email = `ada.${Date.now()}@example.com`;
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Ada Lovelace', email } });
    const customerId = createCustomer.customer.id;

    // The contact exists in HubSpot (made there by a user); HubSpot tells us it was created.
    const contactId = sandbox.hubspot.handler.createObject('contacts', { email: email.toUpperCase(), firstname: 'Ada', lastname: 'Lovelace', phone: '+44 20 7946 0000' });
    const creation = fixture('hubspot', 'contact.creation');
    creation[0].objectId = Number(contactId);
    creation[0].eventId = Date.now();
    creation[0].occurredAt = Date.now() - 1000;
    const change = fixture('hubspot', 'contact.propertyChange');
    change[0].objectId = Number(contactId);
    change[0].eventId = Date.now() + 1;
    change[0].occurredAt = Date.now();
    change[0].propertyValue = 'Augusta Ada';
    // As in HubSpot, the record already holds the change when the webhook is sent (and the two
    // events of one batch may be applied in either order).
    sandbox.hubspot.handler.state().contacts[contactId].properties.firstname = 'Augusta Ada';
    const batch = JSON.stringify([...creation, ...change]);
    const res = await post(integration.hubspot.url, batch, hubspotHeaders(integration.hubspot.url, batch, HUBSPOT_SECRET));
    expect(res.body).toEqual({ received: true, duplicate: false, events: 2, duplicates: 0 });
    const processed = await waitProcessed(t, integration.hubspot.row, [hubspotEventKey(creation[0])!, hubspotEventKey(change[0])!]);
    expect(processed.map((p) => p.status)).toEqual(['PROCESSED', 'PROCESSED']);

    const { customer } = await t.run(CustomerWithRefsDocument, { id: customerId });
    expect(customer).toMatchObject({ name: 'Augusta Ada Lovelace', email, phone: '+44 20 7946 0000' });
    expect(customer!.externalRefs).toEqual([expect.objectContaining({ provider: 'HUBSPOT', externalId: contactId, deletedAt: null })]);
    expect(await t.sql('SELECT id FROM customer WHERE lower(email) = $1', [email])).toHaveLength(1);

    // Stripe knows the same person (matched by email) and tries to rename her: the CRM owns names.
    const stripeCustomer = `cus_ada${Date.now()}`;
    const created = stripeEvent('customer.created', (e) => {
      e.data.object.id = stripeCustomer;
      e.data.object.email = email;
      e.data.object.name = 'Augusta Ada Lovelace';
    });
    const renamed = stripeEvent('customer.updated', (e) => {
      e.data.object.id = stripeCustomer;
      e.data.object.email = email;
      e.data.object.name = 'Countess of Lovelace';
      e.data.previous_attributes = { name: 'Augusta Ada Lovelace' };
    });
    expect((await postStripe(created.body)).status).toBe(200);
    await waitProcessed(t, integration.stripe.row, [created.id]);
    expect((await postStripe(renamed.body)).status).toBe(200);
    const [event] = await waitProcessed(t, integration.stripe.row, [renamed.id]);
    expect(event.status).toBe('PROCESSED');

    const after = await t.run(CustomerWithRefsDocument, { id: customerId });
    expect(after.customer!.name).toBe('Augusta Ada Lovelace');
    expect(after.customer!.externalRefs.map((r) => r.provider).sort()).toEqual(['HUBSPOT', 'STRIPE']);
    const conflicts = await t.sql<{ status: string; error_msg: string; response: any }>(
      `SELECT status, error_msg, response FROM integration_log WHERE webhook_event_id = $1 AND event_type = 'conflict.customer.name'`,
      [event.id],
    );
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0].status).toBe('FAILED');
    expect(conflicts[0].error_msg).toContain('owned by HUBSPOT');
    // Both names are personal data: kept masked (first character, length, a fingerprint), never in clear.
    expect(conflicts[0].response).toMatchObject({
      field: 'customer.name',
      owner: 'HUBSPOT',
      sender: 'STRIPE',
      incoming: expect.stringMatching(/^C\*\*\* \[20 chars, fp [0-9a-f]{6}\]$/),
      kept: expect.stringMatching(/^A\*\*\* \[20 chars, fp [0-9a-f]{6}\]$/),
    });
    expect(JSON.stringify(conflicts[0].response)).not.toMatch(/Countess|Augusta/);
    // Each match by email is logged.
    const matched = await t.sql(`SELECT 1 FROM integration_log WHERE integration_id = ANY($1) AND event_type = 'identity.matched_by_email'`, [[integration.hubspot.row, integration.stripe.row]]);
    expect(matched.length).toBeGreaterThanOrEqual(2);
  });

  it('a HubSpot deal becomes a contract of its contact\'s customer; a stage change (the gateway owns status) is a logged conflict; deal and contact deletions end the links', async () => {
    const email = `deal.${Date.now()}@example.com`;
    const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Deal Maker', email } });
    const customerRow = rowId(createCustomer.customer.id);
    const postHubSpot = async (events: any[]) => {
      const body = JSON.stringify(events);
      expect((await post(integration.hubspot.url, body, hubspotHeaders(integration.hubspot.url, body, HUBSPOT_SECRET))).status).toBe(200);
      return waitProcessed(t, integration.hubspot.row, events.map((e) => hubspotEventKey(e)!));
    };
    const at = Date.now();
    const contactId = sandbox.hubspot.handler.createObject('contacts', { email, firstname: 'Deal', lastname: 'Maker', phone: null });
    const contactCreated = fixture('hubspot', 'contact.creation');
    Object.assign(contactCreated[0], { objectId: Number(contactId), eventId: at, occurredAt: at - 4000 });
    expect((await postHubSpot(contactCreated)).map((r) => r.status)).toEqual(['PROCESSED']);

    // A deal made in HubSpot, associated with that contact.
    const dealId = sandbox.hubspot.handler.createObject('deals', { dealname: 'Renewal 2027', dealstage: 'closedwon', amount: '4800.50', deal_currency_code: 'USD', closedate: '2027-01-31T00:00:00.000Z' }, [contactId]);
    const dealCreated = fixture('hubspot', 'deal.creation');
    Object.assign(dealCreated[0], { objectId: Number(dealId), eventId: at + 1, occurredAt: at - 3000 });
    expect((await postHubSpot(dealCreated)).map((r) => r.status)).toEqual(['PROCESSED']);
    const contracts = await t.sql<{ id: string; title: string; status: string; value_minor: string; value_currency: string; end_date: Date }>(
      'SELECT id, title, status, value_minor, value_currency, end_date FROM contract WHERE customer_id = $1',
      [customerRow],
    );
    expect(contracts).toEqual([expect.objectContaining({ title: 'Renewal 2027', status: 'ACTIVE', value_minor: '480050', value_currency: 'USD', end_date: new Date('2027-01-31T00:00:00.000Z') })]);

    const stage = fixture('hubspot', 'deal.propertyChange');
    Object.assign(stage[0], { objectId: Number(dealId), eventId: at + 2, occurredAt: at - 2000, propertyName: 'dealstage', propertyValue: 'closedlost' });
    const [stageRow] = await postHubSpot(stage);
    expect(stageRow.status).toBe('PROCESSED');
    expect(await t.sql('SELECT status FROM contract WHERE id = $1', [contracts[0].id])).toEqual([{ status: 'ACTIVE' }]);
    const conflicts = await t.sql<{ response: any }>(`SELECT response FROM integration_log WHERE webhook_event_id = $1 AND event_type = 'conflict.contract.status'`, [stageRow.id]);
    expect(conflicts.map((c) => c.response)).toEqual([expect.objectContaining({ field: 'contract.status', owner: 'GATEWAY', sender: 'HUBSPOT', incoming: 'TERMINATED', kept: 'ACTIVE' })]);

    const dealDeleted = fixture('hubspot', 'deal.deletion');
    Object.assign(dealDeleted[0], { objectId: Number(dealId), eventId: at + 3, occurredAt: at - 1000 });
    const contactDeleted = fixture('hubspot', 'contact.deletion');
    Object.assign(contactDeleted[0], { objectId: Number(contactId), eventId: at + 4, occurredAt: at - 1000 });
    expect((await postHubSpot([...dealDeleted, ...contactDeleted])).map((r) => r.status)).toEqual(['PROCESSED', 'PROCESSED']);
    const refs = await t.sql<{ entity_type: string; deleted_at: Date | null }>(
      `SELECT entity_type, deleted_at FROM external_ref WHERE integration_id = $1 AND external_id = ANY($2) ORDER BY entity_type`,
      [integration.hubspot.row, [contactId, dealId]],
    );
    expect(refs.map((r) => [r.entity_type, r.deleted_at instanceof Date])).toEqual([['Contract', true], ['Customer', true]]);
    // The canonical records stay.
    expect(await t.sql('SELECT count(*)::int AS n FROM contract WHERE id = $1', [contracts[0].id])).toEqual([{ n: 1 }]);
    expect((await t.run(CustomerWithRefsDocument, { id: createCustomer.customer.id })).customer).toMatchObject({ name: 'Deal Maker' });
  });

  it('an older HubSpot change arriving after a newer one does not overwrite it', async () => {
    const email = `order.${Date.now()}@example.com`;
    const contactId = sandbox.hubspot.handler.createObject('contacts', { email, firstname: 'First', lastname: 'Last', phone: null });
    const base = Date.now();
    const creation = fixture('hubspot', 'contact.creation');
    Object.assign(creation[0], { objectId: Number(contactId), eventId: base, occurredAt: base - 10_000 });
    const newer = fixture('hubspot', 'contact.propertyChange')[0];
    Object.assign(newer, { objectId: Number(contactId), eventId: base + 1, occurredAt: base, propertyName: 'lastname', propertyValue: 'Newer' });
    const older = { ...newer, eventId: base + 2, occurredAt: base - 5_000, propertyValue: 'Older' };
    for (const events of [creation, [newer], [older]]) {
      const body = JSON.stringify(events);
      expect((await post(integration.hubspot.url, body, hubspotHeaders(integration.hubspot.url, body, HUBSPOT_SECRET))).status).toBe(200);
      await waitProcessed(t, integration.hubspot.row, events.map((e: any) => hubspotEventKey(e)!));
    }
    expect(await t.sql('SELECT name FROM customer WHERE lower(email) = $1', [email])).toEqual([{ name: 'First Newer' }]);
  });

  it('closing the loop: an invoice sent through Stripe becomes PAID when invoice.paid arrives; a late invoice.finalized does not undo it', async () => {
    const { createCustomer, createInvoice, stripeInvoice } = await sentInvoice('Paying Customer');
    expect(stripeInvoice.status).toBe('open');

    const updates: Invoice[] = [];
    const unsubscribe = t.gateway.services.events.subscribe('invoice.updated', (i) => updates.push(i));
    // Over graphql-ws too: a client watching this customer's invoices, and a PARTNER granted
    // another customer, which must not see it.
    const other = (await t.run(CreateCustomerDocument, { input: { name: 'Other Payer', email: `other.${Date.now()}@example.com` } })).createCustomer.customer.id;
    const { createApiKey: partner } = await t.run(CreateApiKeyDocument, { input: { name: 'invoice partner', role: 'PARTNER', customerIds: [other] } });
    const INVOICE_UPDATES = 'subscription($f: InvoiceEventFilter) { invoiceUpdated(filter: $f) { id status amountPaid customer { id } } }';
    const watcher = subscribe<{ invoiceUpdated: { id: string; status: string; amountPaid: string | null; customer: { id: string } } }>(t.url, t.adminKey, INVOICE_UPDATES, { f: { customerId: createCustomer.customer.id } });
    const partnerWatcher = subscribe<{ invoiceUpdated: { id: string } }>(t.url, partner.key, INVOICE_UPDATES, {});
    const probe = () => void t.gateway.services.customers.findByIds([rowId(other)]).then(([c]) => t.gateway.services.events.publish('customer.updated', c as Customer));
    await Promise.all([watcher.ready(other, probe), partnerWatcher.ready(other, probe)]);
    const paidAt = nowSeconds();
    const paid = stripeEvent('invoice.paid', (e) => {
      Object.assign(e.data.object, { id: stripeInvoice.id, customer: stripeInvoice.customer, amount_paid: 12500, currency: 'usd', metadata: {} });
      e.data.object.status_transitions.paid_at = paidAt;
      e.created = paidAt;
    });
    // Stripe's times are whole seconds: a finalize from the same second, and one from a minute earlier.
    const late = stripeEvent('invoice.finalized', (e) => {
      Object.assign(e.data.object, { id: stripeInvoice.id, customer: stripeInvoice.customer, currency: 'usd' });
      e.created = paidAt;
    });
    const older = stripeEvent('invoice.finalized', (e) => {
      Object.assign(e.data.object, { id: stripeInvoice.id, customer: stripeInvoice.customer, currency: 'usd' });
      e.created = paidAt - 60;
    });
    expect((await postStripe(paid.body)).status).toBe(200);
    await waitProcessed(t, integration.stripe.row, [paid.id]);
    expect((await postStripe(late.body)).status).toBe(200);
    expect((await postStripe(older.body)).status).toBe(200);
    await waitProcessed(t, integration.stripe.row, [late.id, older.id]);
    unsubscribe();

    const { invoice } = await t.run(InvoiceDocument, { id: createInvoice.invoice.id });
    expect(invoice).toMatchObject({ status: 'PAID' });
    const [row] = await t.sql<{ amount_paid_minor: string; paid_at: Date }>('SELECT amount_paid_minor, paid_at FROM invoice WHERE id = $1', [rowId(createInvoice.invoice.id)]);
    expect(row.amount_paid_minor).toBe('12500');
    expect(row.paid_at.getTime()).toBe(paidAt * 1000);
    expect(updates.map((u) => [u.id, u.status])).toEqual([[rowId(createInvoice.invoice.id), 'PAID']]);
    await until(() => watcher.events.length > 0, 10_000);
    expect(watcher.errors).toEqual([]);
    expect(watcher.events.map((e) => e.invoiceUpdated)).toEqual([{ id: createInvoice.invoice.id, status: 'PAID', amountPaid: '125.00', customer: { id: createCustomer.customer.id } }]);
    // A marker the partner may see (an invoice of its granted customer): its socket delivers in
    // order, so once the marker is there, a leaked PAID update would have come before it.
    // (invoiceUpdated delivers every change, the API's included: creating it is the event.)
    const { createInvoice: marker } = await t.run(CreateInvoiceDocument, { input: { customerId: other, currency: 'USD', lineItems: [{ description: 'Marker', quantity: 1, unitAmount: '1.00' }] } });
    await until(() => partnerWatcher.events.length > 0, 10_000);
    expect(partnerWatcher.errors).toEqual([]);
    expect(partnerWatcher.events.map((e) => e.invoiceUpdated.id)).toEqual([marker.invoice.id]);
    await Promise.all([watcher.dispose(), partnerWatcher.dispose()]);
  });

  it('Stripe invoice.payment_failed keeps a sent invoice OPEN and says so; invoice.voided makes it VOID; customer.deleted unlinks the customer', async () => {
    const { createCustomer, createInvoice, stripeInvoice } = await sentInvoice('Void Customer');
    const at = nowSeconds();
    const failed = stripeEvent('invoice.payment_failed', (e) => {
      Object.assign(e.data.object, { id: stripeInvoice.id, customer: stripeInvoice.customer, currency: 'usd', metadata: {} });
      e.created = at - 10;
    });
    expect((await postStripe(failed.body)).status).toBe(200);
    const [failedRow] = await waitProcessed(t, integration.stripe.row, [failed.id]);
    expect(failedRow.status).toBe('PROCESSED');
    expect((await t.run(InvoiceDocument, { id: createInvoice.invoice.id })).invoice).toMatchObject({ status: 'OPEN' });
    // The processing step's log row (the request's own row has no outcome) says what happened.
    const processing = await t.sql<{ response: { outcome: string; note: string } }>(`SELECT response FROM integration_log WHERE webhook_event_id = $1 AND response ? 'outcome'`, [failedRow.id]);
    expect(processing).toHaveLength(1);
    expect(processing[0].response).toMatchObject({ outcome: 'PROCESSED', note: expect.stringContaining('payment failed at the provider') });

    const voided = stripeEvent('invoice.voided', (e) => {
      Object.assign(e.data.object, { id: stripeInvoice.id, customer: stripeInvoice.customer, currency: 'usd', metadata: {} });
      e.data.object.status_transitions.voided_at = at;
      e.created = at;
    });
    expect((await postStripe(voided.body)).status).toBe(200);
    await waitProcessed(t, integration.stripe.row, [voided.id]);
    expect((await t.run(InvoiceDocument, { id: createInvoice.invoice.id })).invoice).toMatchObject({ status: 'VOID' });

    // The customer, linked by the sendInvoice job, is deleted at Stripe: the link ends, the customer stays.
    const deleted = stripeEvent('customer.deleted', (e) => Object.assign(e.data.object, { id: stripeInvoice.customer, email: null, name: 'Void Customer' }));
    expect((await postStripe(deleted.body)).status).toBe(200);
    const [deletedRow] = await waitProcessed(t, integration.stripe.row, [deleted.id]);
    expect(deletedRow.status).toBe('PROCESSED');
    const refs = await t.sql<{ deleted_at: Date | null }>(`SELECT deleted_at FROM external_ref WHERE entity_type = 'Customer' AND external_id = $1`, [stripeInvoice.customer]);
    expect(refs).toHaveLength(1);
    expect(refs[0].deleted_at).toBeInstanceOf(Date);
    expect((await t.run(CustomerWithRefsDocument, { id: createCustomer.customer.id })).customer).toMatchObject({ name: 'Void Customer' });
  });
});

describe('the Stripe sandbox sends its own signed events', () => {
  it('sendInvoice makes Stripe emit invoice.created, finalized and sent; paying at Stripe turns the canonical invoice PAID', async () => {
    // The original secret verifies before the rotation test and, for 24 hours, after it.
    sandbox.stripe.handler.setWebhook({ url: integration.stripe.url, secret: STRIPE_SECRET });
    try {
      const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Loop Closer', email: `loop.${Date.now()}@example.com` } });
      const { createInvoice } = await t.run(CreateInvoiceDocument, {
        input: { customerId: createCustomer.customer.id, currency: 'USD', lineItems: [{ description: 'Seats', quantity: 3, unitAmount: '20.00' }] },
      });
      const { sendInvoice } = await t.run(SendInvoiceDocument, { invoiceId: createInvoice.invoice.id, integrationId: integration.stripe.id });
      await waitForJobs(t, [sendInvoice.job.id]);
      const ours = rowId(createInvoice.invoice.id);
      const stripeInvoice = Object.values(sandbox.stripe.state<StripeState>().invoices).find((i: any) => i.metadata?.switchboard_id === ours) as any;
      // The customer's pay at Stripe (its hosted page, say).
      const paid = await fetch(`${sandbox.stripe.url}/v1/invoices/${stripeInvoice.id}/pay`, { method: 'POST', headers: { authorization: `Bearer ${STRIPE_KEY}` } });
      expect(paid.status).toBe(200);
      const emitted = () => sandbox.stripe.handler.deliveries.map((d) => d.type);
      await until(() => emitted().includes('invoice.paid') && sandbox.stripe.handler.deliveries.every((d) => d.status === 200), 15_000);
      expect(emitted()).toEqual(expect.arrayContaining(['customer.created', 'invoice.created', 'invoice.finalized', 'invoice.sent', 'invoice.paid']));
      await waitProcessed(t, integration.stripe.row, sandbox.stripe.handler.deliveries.map((d) => d.id));
      const { invoice } = await t.run(InvoiceDocument, { id: createInvoice.invoice.id });
      expect(invoice).toMatchObject({ status: 'PAID' });
      expect(await t.sql('SELECT amount_paid_minor FROM invoice WHERE id = $1', [ours])).toEqual([{ amount_paid_minor: '6000' }]);
      // Stripe's customer.created named our customer in its metadata: linked, not duplicated.
      const { customer } = await t.run(CustomerWithRefsDocument, { id: createCustomer.customer.id });
      expect(customer!.externalRefs.map((r) => r.provider)).toEqual(['STRIPE']);
      expect(await t.sql('SELECT count(*)::int AS n FROM customer WHERE name = $1', ['Loop Closer'])).toEqual([{ n: 1 }]);
    } finally {
      sandbox.stripe.handler.setWebhook(null);
    }
  });
});

describe('operations', () => {
  it('a failing event is retried, then FAILED; replayWebhookEvent runs it again once the cause is gone', async () => {
    const contactId = sandbox.hubspot.handler.createObject('contacts', { email: `replay.${Date.now()}@example.com`, firstname: 'Re', lastname: 'Play', phone: null });
    const events = fixture('hubspot', 'contact.creation');
    Object.assign(events[0], { objectId: Number(contactId), eventId: Date.now(), occurredAt: Date.now() });
    const body = JSON.stringify(events);
    sandbox.hubspot.setFaults({ outage: true });
    try {
      expect((await post(integration.hubspot.url, body, hubspotHeaders(integration.hubspot.url, body, HUBSPOT_SECRET))).status).toBe(200);
      const [failed] = await waitProcessed(t, integration.hubspot.row, [hubspotEventKey(events[0])!], 30_000);
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toContain('503');
      const [{ attempts }] = await t.sql<{ attempts: number }>('SELECT attempts FROM webhook_event WHERE id = $1', [failed.id]);
      expect(attempts).toBe(2);
      const logs = await t.run(InboundLogsDocument, { filter: { webhookEventId: Buffer.from(`WebhookEvent:${failed.id}`).toString('base64url') } });
      expect(logs.integrationLogs.edges.map((e) => e.node.status)).toEqual(['SUCCESS', 'PENDING', 'FAILED']);
    } finally {
      sandbox.hubspot.setFaults({ outage: false });
    }
    const [failed] = await t.sql<{ id: string }>('SELECT id FROM webhook_event WHERE external_event_id = $1', [hubspotEventKey(events[0])!]);
    const globalId = Buffer.from(`WebhookEvent:${failed.id}`).toString('base64url');
    const { replayWebhookEvent } = await t.run(ReplayWebhookEventDocument, { id: globalId });
    expect(replayWebhookEvent.status).toBe('RECEIVED');
    const [done] = await until(async () => {
      const rows = await t.sql<{ status: string }>('SELECT status FROM webhook_event WHERE id = $1', [failed.id]);
      return rows[0].status === 'PROCESSED' ? rows : null;
    });
    expect(done.status).toBe('PROCESSED');
    expect(await t.sql('SELECT name FROM customer WHERE name = $1', ['Re Play'])).toHaveLength(1);
    // Replaying an applied event changes nothing.
    await t.run(ReplayWebhookEventDocument, { id: globalId });
    await until(async () => (await t.sql<{ status: string }>('SELECT status FROM webhook_event WHERE id = $1', [failed.id]))[0].status === 'PROCESSED');
    expect(await t.sql('SELECT version FROM customer WHERE name = $1', ['Re Play'])).toEqual([{ version: 1 }]);
    // Only operators replay: an APP key is refused on a real event; a malformed id is bad input.
    const { createApiKey } = await t.run(CreateApiKeyDocument, { input: { name: 'app, not operator', role: 'APP' } });
    expect(codes(await t.request(ReplayWebhookEventDocument, { id: globalId }, { key: createApiKey.key }))).toEqual(['FORBIDDEN']);
    expect(codes(await t.request(ReplayWebhookEventDocument, { id: 'nope' }))).toEqual(['BAD_USER_INPUT']);
  });

  it('SendGrid delivered, bounce and dropped events settle the notification job that sent the mail', async () => {
    const send = async (to: string) => {
      const { sendNotification } = await t.run(SendNotificationDocument, {
        integrationId: integration.sendgrid.id,
        input: { to, from: 'billing@acme.test', templateId: 'd-0123456789abcdef0123456789abcdef', kind: 'invoice_sent' },
      });
      await waitForJobs(t, [sendNotification.job.id]);
      const [{ result }] = await t.sql<{ result: { messageId: string } }>('SELECT result FROM integration_job WHERE id = $1', [rowId(sendNotification.job.id)]);
      return { jobId: sendNotification.job.id, messageId: result.messageId };
    };
    const ok = await send('ada@example.com');
    const bad = await send('nobody@example.com');
    const unsubscribed = await send('unsubscribed@example.com');
    const delivered = fixture('sendgrid', 'events');
    delivered.forEach((e: any, i: number) => {
      e.sg_event_id = `sg_ok_${Date.now()}_${i}`;
      e.sg_message_id = `${ok.messageId}.filterdrecv-p3mdw1-${i}`;
    });
    const bounce = fixture('sendgrid', 'bounce');
    bounce[0].sg_event_id = `sg_bounce_${Date.now()}`;
    bounce[0].sg_message_id = `${bad.messageId}.filterdrecv-p3mdw1-9`;
    const dropped = fixture('sendgrid', 'dropped');
    dropped[0].sg_event_id = `sg_dropped_${Date.now()}`;
    dropped[0].sg_message_id = `${unsubscribed.messageId}.filterdrecv-p3mdw1-10`;
    // SendGrid's bodies end with CRLF; the signature covers it.
    const body = JSON.stringify([...delivered, ...bounce, ...dropped]) + '\r\n';
    const res = await post(integration.sendgrid.url, body, sendgridHeaders(body, sendgrid.privateKey));
    expect(res.body).toMatchObject({ received: true, events: 4 });
    const rows = await waitProcessed(t, integration.sendgrid.row, [...delivered.map((e: any) => e.sg_event_id), bounce[0].sg_event_id, dropped[0].sg_event_id]);
    expect(Object.fromEntries(rows.map((r) => [r.external_event_id, r.status]))).toEqual({
      [delivered[0].sg_event_id]: 'IGNORED',
      [delivered[1].sg_event_id]: 'PROCESSED',
      [bounce[0].sg_event_id]: 'PROCESSED',
      [dropped[0].sg_event_id]: 'PROCESSED',
    });
    expect((await t.run(NotificationJobDocument, { id: unsubscribed.jobId })).integrationJob.deliveryStatus).toBe('DROPPED');
    const droppedLogs = (await t.run(InboundLogsDocument, { filter: { jobId: unsubscribed.jobId } })).integrationLogs.edges.map((e) => e.node);
    expect(droppedLogs.find((l) => l.eventType === 'email.dropped')).toMatchObject({ direction: 'INBOUND', status: 'FAILED', errorMsg: 'dropped: Unsubscribed Address' });
    expect((await t.run(NotificationJobDocument, { id: ok.jobId })).integrationJob.deliveryStatus).toBe('DELIVERED');
    expect((await t.run(NotificationJobDocument, { id: bad.jobId })).integrationJob.deliveryStatus).toBe('BOUNCED');
    const logs = await t.run(InboundLogsDocument, { filter: { jobId: bad.jobId } });
    const bounced = logs.integrationLogs.edges.map((e) => e.node).find((l) => l.eventType === 'email.bounce');
    expect(bounced).toMatchObject({ direction: 'INBOUND', status: 'FAILED' });
    expect(bounced!.errorMsg).toContain('does not exist');
  });

  it('webhookEvents pages and filters; /metrics counts requests, rejections, duplicates and the processing lag', async () => {
    const first = await t.run(WebhookEventsDocument, { first: 2, filter: { integrationId: integration.stripe.id } });
    expect(first.webhookEvents.edges).toHaveLength(2);
    expect(first.webhookEvents.pageInfo.hasNextPage).toBe(true);
    const next = await t.run(WebhookEventsDocument, { first: 2, after: first.webhookEvents.pageInfo.endCursor, filter: { integrationId: integration.stripe.id } });
    expect(next.webhookEvents.edges[0].node.id).not.toBe(first.webhookEvents.edges[1].node.id);
    const failedOnly = await t.run(WebhookEventsDocument, { filter: { status: 'FAILED' } });
    expect(failedOnly.webhookEvents.edges.every((e) => e.node.status === 'FAILED')).toBe(true);

    const metrics = await scrapeMetrics(t.url, t.adminKey);
    const row = integration.stripe.row;
    expect(metrics).toMatch(new RegExp(`switchboard_webhook_requests_total\\{integration="${row}",provider="STRIPE",outcome="accepted"\\} \\d+`));
    expect(metrics).toMatch(new RegExp(`switchboard_webhook_rejected_total\\{integration="${row}",provider="STRIPE",reason="bad_signature"\\} \\d+`));
    // The 20 identical posts alone made 19 duplicates.
    const duplicates = new RegExp(`switchboard_webhook_duplicates_total\\{integration="${row}",provider="STRIPE"\\} (\\d+)`).exec(metrics);
    expect(Number(duplicates?.[1])).toBeGreaterThanOrEqual(19);
    expect(metrics).toMatch(new RegExp(`^switchboard_webhook_processing_lag_seconds\\{integration="${row}"\\} 0$`, 'm'));
  });
});
