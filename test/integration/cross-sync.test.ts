import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXTERNAL_ID_FIELD } from '../../src/providers/salesforce/api.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../../src/providers/salesforce/fake.js';
import type { StripeState } from '../../src/providers/stripe/fake.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CreateCustomerFanOutDocument as CreateCustomerDocument, CreateIntegrationDocument, ReplayWebhookEventDocument, UpdateCustomerFanOutDocument as UpdateCustomerDocument } from '../generated/graphql.js';
import { scrapeMetrics, startTestGateway, type TestGateway } from '../support/gateway.js';
import { HUBSPOT_TOKEN, rowId, STRIPE_KEY } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { toGlobalId } from '../../src/domain/shared/ids.js';
import { hubspotHeaders, post, stripeHeaders, webhookCatcher } from '../support/webhooks.js';

/**
 * A change reaches every other provider, whatever its source, and never comes back: Stripe,
 * HubSpot and Salesforce all auto-sync customers, and every fake posts its own webhooks (Stripe
 * events, HubSpot v3 events, Salesforce Outbound Messages) to the gateway as its records change,
 * the gateway's own writes included. Default ownership: HubSpot owns customer names and phones.
 */
let t: TestGateway;
let sandbox: Sandbox;
const STRIPE_SECRET = 'whsec_' + 'Y3Jvc3Mtc3luYy1zdHJpcGUtc2VjcmV0';
const HUBSPOT_SECRET = 'hubspot-cross-sync-client-secret-01';
let hubspotWebhookUrl = '';
let stripeWebhookUrl = '';
const integration = { stripe: { id: '', row: '' }, hubspot: { id: '', row: '' }, salesforce: { id: '', row: '' } };

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ WEBHOOK_RETRY_DELAY_SECONDS: '1' });
  const make = async (key: keyof typeof integration, provider: 'STRIPE' | 'HUBSPOT' | 'SALESFORCE', baseUrl: string, credentials: Record<string, unknown>, webhookSecret: string) => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider, name: `${provider} cross-sync`, baseUrl, credentials, webhookSecret, autoSync: ['Customer'], settings: { timeoutMs: 2000, retryBaseDelayMs: 20, retryMaxDelayMs: 200 } },
    });
    integration[key] = { id: createIntegration.integration.id, row: rowId(createIntegration.integration.id) };
    return createIntegration.integration.webhookUrl!;
  };
  stripeWebhookUrl = await make('stripe', 'STRIPE', sandbox.stripe.url, { apiKey: STRIPE_KEY }, STRIPE_SECRET);
  sandbox.stripe.handler.setWebhook({ url: stripeWebhookUrl, secret: STRIPE_SECRET });
  hubspotWebhookUrl = await make('hubspot', 'HUBSPOT', sandbox.hubspot.url, { accessToken: HUBSPOT_TOKEN }, HUBSPOT_SECRET);
  sandbox.hubspot.handler.setWebhook({ url: hubspotWebhookUrl, secret: HUBSPOT_SECRET });
  const sf = sandbox.salesforce.handler;
  sf.setWebhook({ url: await make('salesforce', 'SALESFORCE', sandbox.salesforce.url, { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET }, sf.organizationId) });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});

/** Nothing left in flight: every job ended, every webhook sent was answered and processed. */
async function settled(): Promise<void> {
  await until(async () => {
    const fakesDone =
      sandbox.stripe.handler.deliveries.every((d) => d.dropped || d.status === 200) &&
      sandbox.hubspot.handler.deliveries.every((d) => d.dropped || d.status === 200) &&
      sandbox.salesforce.handler.deliveries.every((d) => d.acked);
    if (!fakesDone) return false;
    const [row] = await t.sql<{ jobs: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM integration_job WHERE status IN ('PENDING', 'PROCESSING', 'RETRYING')) AS jobs,
              (SELECT count(*)::int FROM webhook_event WHERE status = 'RECEIVED') AS events`,
    );
    return row.jobs === 0 && row.events === 0;
  }, 30_000, 50);
  // A fake may post once more after the last job (its webhook for that write): look again.
  await until(async () => {
    const [row] = await t.sql<{ events: number }>(`SELECT count(*)::int AS events FROM webhook_event WHERE status = 'RECEIVED'`);
    return row.events === 0 && sandbox.salesforce.handler.deliveries.every((d) => d.acked);
  }, 30_000, 50);
}

const stripeCustomer = (customerId: string) => Object.values(sandbox.stripe.state<StripeState>().customers).find((c: any) => c.metadata?.switchboard_id === customerId) as any;
const hubspotContact = (customerId: string) => Object.values(sandbox.hubspot.handler.state().contacts).find((c) => c.properties.switchboard_id === customerId)!;
const salesforceAccount = (customerId: string) => Object.values(sandbox.salesforce.handler.state().accounts).find((a) => a[EXTERNAL_ID_FIELD] === customerId) as any;
/** One field of a customer in the model and as each provider holds it (HubSpot's name is firstname + lastname). */
async function copies(customerId: string, field: 'name' | 'phone'): Promise<Record<'model' | 'stripe' | 'hubspot' | 'salesforce', unknown>> {
  const [row] = await t.sql<{ name: string; phone: string }>(`SELECT name, phone FROM customer WHERE id = $1`, [customerId]);
  const hs = hubspotContact(customerId).properties;
  return {
    model: row[field],
    stripe: stripeCustomer(customerId)[field],
    hubspot: field === 'name' ? `${hs.firstname} ${hs.lastname}` : hs.phone,
    salesforce: salesforceAccount(customerId)[field === 'name' ? 'Name' : 'Phone'],
  };
}
const everywhere = (value: string) => ({ model: value, stripe: value, hubspot: value, salesforce: value });
const writesTo = (server: { requests: Array<{ method: string; path: string; at: number }> }, since: number) => server.requests.filter((r) => r.at >= since && r.method !== 'GET' && !r.path.includes('/oauth2/'));
const suppressed = async (kind: 'echo' | 'noop', integrationId: string) =>
  Number(new RegExp(`switchboard_sync_suppressed_total\\{integration="${integrationId}",kind="${kind}"\\} (\\d+)`).exec(await scrapeMetrics(t.url, t.adminKey))?.[1] ?? 0);
const jobCount = async () => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration_job`))[0].n;

async function newCustomer(name: string): Promise<string> {
  const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com`, phone: '+1 555 0100' } });
  expect(createCustomer.jobs).toHaveLength(3);
  await settled();
  return rowId(createCustomer.customer.id);
}

describe('a change reaches the other providers, and only them', () => {
  it('a HubSpot contact change arrives by webhook: Stripe and Salesforce receive the new name within 2 s; HubSpot receives nothing; their webhooks for those writes come back as echoes: no change, no job', async () => {
    const customerId = await newCustomer('Grace Before');
    const contact = hubspotContact(customerId);
    expect(contact.properties).toMatchObject({ firstname: 'Grace', lastname: 'Before' });
    const before = { version: (await t.sql<{ version: number }>(`SELECT version FROM customer WHERE id = $1`, [customerId]))[0].version, jobs: await jobCount() };
    const echoes = { stripe: await suppressed('echo', integration.stripe.row), salesforce: await suppressed('echo', integration.salesforce.row) };

    const changedAt = Date.now();
    sandbox.hubspot.handler.updateObject('contacts', contact.id, { firstname: 'Ada' });
    await until(() => stripeCustomer(customerId)?.name === 'Ada Before' && salesforceAccount(customerId)?.Name === 'Ada Before', 15_000, 10);
    const arrived = Date.now() - changedAt;
    expect(arrived).toBeLessThan(2000);
    await settled();

    // The fan-out: one job each for Stripe and Salesforce, caused by HubSpot's webhook; none for HubSpot.
    const jobs = await t.sql<{ integration_id: string; source: string; source_integration_id: string; status: string }>(
      `SELECT integration_id, source, source_integration_id, status FROM integration_job WHERE entity_id = $1 AND source = 'WEBHOOK'`,
      [customerId],
    );
    expect(jobs.map((j) => j.integration_id).sort()).toEqual([integration.stripe.row, integration.salesforce.row].sort());
    expect(jobs.every((j) => j.source_integration_id === integration.hubspot.row && j.status === 'COMPLETED')).toBe(true);
    expect(writesTo(sandbox.hubspot, changedAt)).toEqual([]);

    // Stripe's customer.updated and Salesforce's Outbound Message for those writes came back (and
    // were processed, settled() waited for them): no canonical change, no new job, echoes counted.
    const [after] = await t.sql<{ version: number; name: string }>(`SELECT version, name FROM customer WHERE id = $1`, [customerId]);
    expect(after).toEqual({ version: before.version + 1, name: 'Ada Before' });
    expect(await jobCount()).toBe(before.jobs + 2);
    expect(await suppressed('echo', integration.stripe.row)).toBeGreaterThan(echoes.stripe);
    expect(await suppressed('echo', integration.salesforce.row)).toBeGreaterThan(echoes.salesforce);
    const stripeEvents = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND received_at >= $2`, [integration.stripe.row, new Date(changedAt)]);
    expect(stripeEvents[0].n).toBeGreaterThan(0);
  });

  it('an update that changes no field a provider carries sends nothing there', async () => {
    const customerId = await newCustomer('Tax Only');
    const since = Date.now();
    const noops = await suppressed('noop', integration.stripe.row);
    const { updateCustomer } = await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { taxId: 'DE123456789' } });
    expect(updateCustomer.customer.taxId).toBe('DE123456789');
    expect(updateCustomer.jobs).toEqual([]);
    await settled();
    expect(await suppressed('noop', integration.stripe.row)).toBe(noops + 1);
    expect([...writesTo(sandbox.stripe, since), ...writesTo(sandbox.hubspot, since), ...writesTo(sandbox.salesforce, since)]).toEqual([]);
    // A change to a carried field still goes everywhere.
    const { updateCustomer: renamed } = await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { phone: '+1 555 0199' } });
    expect(renamed.jobs).toHaveLength(3);
    await settled();
  });

  it('Stripe and HubSpot change the name in the same second: the owner (HubSpot) wins everywhere, with one conflict row, and it does not flap', async () => {
    const customerId = await newCustomer('Conflict Start');
    const contact = hubspotContact(customerId);
    const stripeId = stripeCustomer(customerId).id as string;
    const since = new Date();
    sandbox.stripe.handler.updateCustomer(stripeId, { name: 'Stripe Says' });
    sandbox.hubspot.handler.updateObject('contacts', contact.id, { firstname: 'HubSpot', lastname: 'Says' });
    await settled();
    const [customer] = await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerId]);
    expect(customer.name).toBe('HubSpot Says');
    expect(stripeCustomer(customerId).name).toBe('HubSpot Says');
    expect(salesforceAccount(customerId).Name).toBe('HubSpot Says');
    const hs = hubspotContact(customerId).properties;
    expect(`${hs.firstname} ${hs.lastname}`).toBe('HubSpot Says');
    const conflicts = await t.sql<{ integration_id: string; response: any }>(
      `SELECT integration_id, response FROM integration_log WHERE event_type = 'conflict.customer.name' AND timestamp >= $1`,
      [since],
    );
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0].integration_id).toBe(integration.stripe.row);
    // Both values, masked.
    expect(JSON.stringify(conflicts[0].response)).not.toContain('Stripe Says');
    expect(conflicts[0].response).toMatchObject({ field: 'customer.name', owner: 'HUBSPOT', sender: 'STRIPE' });
    // Settled means settled: nothing more is sent anywhere.
    const quiet = Date.now();
    await settled();
    expect([...writesTo(sandbox.stripe, quiet), ...writesTo(sandbox.hubspot, quiet), ...writesTo(sandbox.salesforce, quiet)]).toEqual([]);
  });

  it("HubSpot reports the gateway's own write back, marked as the app's (changeSource INTEGRATION): an echo, with no change and no job", async () => {
    const customerId = await newCustomer('Own Write');
    const since = Date.now();
    const echoes = await suppressed('echo', integration.hubspot.row);
    const { updateCustomer } = await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { email: `own.write.${since}@example.com` } });
    // Stripe and HubSpot carry the email; Salesforce does not (a no-op there).
    expect(updateCustomer.jobs).toHaveLength(2);
    await settled();
    const [row] = await t.sql<{ jobs: number }>(`SELECT count(*)::int AS jobs FROM integration_job WHERE entity_id = $1 AND created_at >= $2`, [customerId, new Date(since)]);
    const events = await t.sql<{ body: string }>(`SELECT body FROM webhook_event WHERE integration_id = $1 AND received_at >= $2`, [integration.hubspot.row, new Date(since)]);
    expect(events.map((e) => JSON.parse(e.body)).some((e) => e.changeSource === 'INTEGRATION' && e.propertyName === 'email')).toBe(true);
    expect(row.jobs).toBe(2);
    expect(await suppressed('echo', integration.hubspot.row)).toBeGreaterThan(echoes);
    // The linked contact changed its email: no second contact.
    expect(Object.values(sandbox.hubspot.handler.state().contacts).filter((c) => c.properties.switchboard_id === customerId)).toHaveLength(1);
    expect(hubspotContact(customerId).properties.email).toBe(`own.write.${since}@example.com`);
  });
});

describe('lost updates the soak found', () => {
  it('an email change updates the linked HubSpot contact: no second contact, nothing stale left', async () => {
    const customerId = await newCustomer('Email Mover');
    const contactId = hubspotContact(customerId).id;
    const email = `moved.${Date.now()}@example.com`;
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { email } });
    await settled();
    const contacts = Object.values(sandbox.hubspot.handler.state().contacts).filter((c) => c.properties.switchboard_id === customerId);
    expect(contacts.map((c) => [c.id, c.properties.email])).toEqual([[contactId, email]]);
  });

  it("a person's HubSpot edit that the gateway's slower write then overwrote there is written back: the edit wins in every system, HubSpot included", async () => {
    const customerId = await newCustomer('Overwritten Edit');
    const contact = hubspotContact(customerId);
    // The API's write to HubSpot is slow: the person's edit lands at HubSpot first, then the write.
    sandbox.hubspot.setFaults({ latencyMs: 700 });
    try {
      await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { name: 'Api Value' } });
      await until(() => sandbox.hubspot.requests.some((r) => r.method === 'PATCH' && r.path.endsWith(`/${contact.id}`) && r.status === null && r.body.includes('"lastname":"Value"')), 10_000, 5);
      sandbox.hubspot.handler.updateObject('contacts', contact.id, { firstname: 'Person', lastname: 'Edit' });
      await until(() => hubspotContact(customerId).properties.lastname === 'Value', 10_000, 10);
    } finally {
      sandbox.hubspot.setFaults({ latencyMs: 0 });
    }
    await settled();
    expect(await copies(customerId, 'name')).toEqual(everywhere('Person Edit'));
  });

  it("the same, with HubSpot reporting the gateway's write before the person's edit (its events come in any order): the write's echo does not make the edit look older", async () => {
    const customerId = await newCustomer('Reported Late');
    const contact = hubspotContact(customerId);
    // HubSpot's events for this record are caught, then delivered to the gateway in reverse.
    const catcher = await webhookCatcher();
    const caught = catcher.caught;
    sandbox.hubspot.handler.setWebhook({ url: catcher.url, secret: HUBSPOT_SECRET });
    sandbox.hubspot.setFaults({ latencyMs: 700 });
    try {
      await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { phone: '+1 555 0111' } });
      await until(() => sandbox.hubspot.requests.some((r) => r.method === 'PATCH' && r.path.endsWith(`/${contact.id}`) && r.status === null && r.body.includes('0111')), 10_000, 5);
      sandbox.hubspot.handler.updateObject('contacts', contact.id, { phone: '+1 555 0222' });
      await until(() => caught.length === 2, 10_000, 10);
    } finally {
      sandbox.hubspot.setFaults({ latencyMs: 0 });
      sandbox.hubspot.handler.setWebhook({ url: hubspotWebhookUrl, secret: HUBSPOT_SECRET });
      catcher.close();
    }
    const [edit, write] = caught.map((b) => JSON.parse(b)[0]);
    expect([edit.changeSource, edit.propertyValue, write.changeSource, write.propertyValue]).toEqual(['CRM_UI', '+1 555 0222', 'INTEGRATION', '+1 555 0111']);
    expect(hubspotContact(customerId).properties.phone).toBe('+1 555 0111');
    // The write's event is processed first, then the person's (which happened before the write).
    for (const body of [caught[1], caught[0]]) {
      expect((await post(hubspotWebhookUrl, body, hubspotHeaders(hubspotWebhookUrl, body, HUBSPOT_SECRET))).status).toBe(200);
      await settled();
    }
    // The person's edit (HubSpot owns phones) is the model's, and is written back to HubSpot.
    expect(await copies(customerId, 'phone')).toEqual(everywhere('+1 555 0222'));
  });

  it('a HubSpot event older than an API update of the same field, processed after it (replayed here), does not undo it', async () => {
    const customerId = await newCustomer('Older Event');
    const contact = hubspotContact(customerId);
    const since = new Date();
    sandbox.hubspot.handler.updateObject('contacts', contact.id, { lastname: 'Earlier' });
    await settled();
    expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerId]))[0].name).toBe('Older Earlier');
    const [event] = await t.sql<{ id: string }>(`SELECT id FROM webhook_event WHERE integration_id = $1 AND received_at >= $2 ORDER BY received_at LIMIT 1`, [integration.hubspot.row, since]);
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { name: 'Newer Api' } });
    await settled();
    const jobs = await jobCount();
    await t.run(ReplayWebhookEventDocument, { id: toGlobalId('WebhookEvent', event.id) });
    await settled();
    expect((await t.sql<{ name: string }>(`SELECT name FROM customer WHERE id = $1`, [customerId]))[0].name).toBe('Newer Api');
    expect(await jobCount()).toBe(jobs);
    expect(stripeCustomer(customerId).name).toBe('Newer Api');
  });
});

describe('changes that look like echoes, or like no-ops, and are not', () => {
  /** What a fake posts while `act` runs (its webhook pointed at a catcher), once `count` came; then it points at the gateway again. */
  async function catching(point: (url: string) => void, restore: () => void, act: () => void, count = 1): Promise<string[]> {
    const catcher = await webhookCatcher();
    point(catcher.url);
    try {
      act();
      await until(() => catcher.caught.length >= count, 10_000, 10);
    } finally {
      restore();
      catcher.close();
    }
    return catcher.caught;
  }
  const lastJobAt = async (integrationRow: string, customerId: string) =>
    new Date((await t.sql<{ at: Date }>(`SELECT max(updated_at) AS at FROM integration_job WHERE integration_id = $1 AND entity_id = $2`, [integrationRow, customerId]))[0].at).getTime();

  it("Stripe: a conflicting name edit in the same whole second as the gateway's write there (its event cannot be ordered after the write) is still corrected", async () => {
    const customerId = await newCustomer('Same Second');
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { phone: '+1 555 0333' } });
    await settled();
    const stripeId = stripeCustomer(customerId).id as string;
    const [body] = await catching(
      (url) => sandbox.stripe.handler.setWebhook({ url, secret: STRIPE_SECRET }),
      () => sandbox.stripe.handler.setWebhook({ url: stripeWebhookUrl, secret: STRIPE_SECRET }),
      () => sandbox.stripe.handler.updateCustomer(stripeId, { name: 'Stripe Edit' }),
    );
    // Stripe stamps events with whole seconds: an edit made within the second the gateway's write
    // there completed carries that second, earlier than the completion.
    const event = JSON.parse(body);
    event.created = Math.floor((await lastJobAt(integration.stripe.row, customerId)) / 1000);
    const sent = JSON.stringify(event);
    expect((await post(stripeWebhookUrl, sent, stripeHeaders(sent, STRIPE_SECRET))).status).toBe(200);
    await settled();
    // HubSpot owns names: the model keeps its name, logs the conflict, and Stripe gets it back.
    expect(await copies(customerId, 'name')).toEqual(everywhere('Same Second'));
    const [conflict] = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration_log WHERE event_type = 'conflict.customer.name' AND webhook_event_id IN (SELECT id FROM webhook_event WHERE external_event_id = $1)`, [event.id]);
    expect(conflict.n).toBe(1);
  });

  it('HubSpot: a person setting a phone back to a value the gateway wrote there a moment before is a change (HubSpot marks it as a user\'s), not an echo', async () => {
    const customerId = await newCustomer('Phone Back');
    const contactId = hubspotContact(customerId).id;
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { phone: '+1 555 0401' } });
    await settled();
    const since = Date.now();
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { phone: '+1 555 0402' } });
    await until(() => sandbox.hubspot.requests.some((r) => r.at >= since && r.method === 'PATCH' && r.path.endsWith(`/${contactId}`) && r.status === 200 && r.body.includes('0402')), 10_000, 5);
    // Within a second of the write: the value is one the gateway sent there lately.
    sandbox.hubspot.handler.updateObject('contacts', contactId, { phone: '+1 555 0401' });
    await settled();
    // HubSpot owns phones: the person's value is the model's, and everyone's.
    expect(await copies(customerId, 'phone')).toEqual(everywhere('+1 555 0401'));
  });

  it('Salesforce (no origin mark): a person setting a name the gateway wrote there a moment before, while the model holds a newer one, gets the model\'s value back', async () => {
    const customerId = await newCustomer('Name One');
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { name: 'Name Two' } });
    await settled();
    const accountId = salesforceAccount(customerId).Id as string;
    const since = Date.now();
    await t.run(UpdateCustomerDocument, { id: globalId(customerId), input: { name: 'Name Three' } });
    await until(() => sandbox.salesforce.requests.some((r) => r.at >= since && r.method === 'PATCH' && r.status !== null && r.status < 300 && r.body.includes('Name Three')), 10_000, 5);
    sandbox.salesforce.handler.userChange('Account', { Name: 'Name Two' }, accountId);
    await settled();
    // Salesforce's value could be the gateway's write reported late or a person's edit; it is
    // not the model's (HubSpot owns names), so Salesforce is read and written back.
    expect(await copies(customerId, 'name')).toEqual(everywhere('Name Three'));
  });
});

const globalId = (row: string) => Buffer.from(`Customer:${row}`).toString('base64url');
