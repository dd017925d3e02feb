import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import type { HubSpotState } from '../../src/providers/hubspot/fake.js';
import type { SendGridState } from '../../src/providers/sendgrid/fake.js';
import type { StripeState } from '../../src/providers/stripe/fake.js';
import {
  CancelJobDocument,
  CreateContractDocument,
  CreateCustomerDocument,
  CreateCustomerWithJobsDocument,
  CreateIntegrationDocument,
  CreateInvoiceDocument,
  CustomerDocument,
  InvoiceDocument,
  JobDocument,
  JobsDocument,
  LogsDocument,
  PauseIntegrationDocument,
  PushCustomerDocument,
  PushCustomersDocument,
  ReplayFailedDocument,
  ResumeIntegrationDocument,
  RetryJobDocument,
  SendInvoiceDocument,
  SendNotificationDocument,
  UpdateIntegrationDocument,
} from '../generated/graphql.js';
import { codes, startTestGateway, testEnv, type TestGateway, scrapeMetrics } from '../support/gateway.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgBoss } from 'pg-boss';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { createIntegrations, HUBSPOT_TOKEN, rowId, SENDGRID_KEY, STRIPE_KEY, waitForJobs } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { subscribe } from '../support/subscriptions.js';
import type { QueryRunner } from 'typeorm';
import { Customer as CustomerEntity, type Customer } from '../../src/domain/customer/customer.entity.js';
import { Integration } from '../../src/domain/integration/integration.entity.js';
import { customerPayload } from '../../src/jobs/job.service.js';
import { adoptLegacyOutboundQueue } from '../../src/jobs/queue.js';
import { toGlobalId } from '../../src/domain/shared/ids.js';

let t: TestGateway;
let sandbox: Sandbox;
let integrations: Awaited<ReturnType<typeof createIntegrations>>;

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ CIRCUIT_COOLDOWN_MS: '500' });
  integrations = await createIntegrations(t, sandbox, { retryBaseDelayMs: 20, retryMaxDelayMs: 200, timeoutMs: 1000 });
});
afterAll(async () => {
  await t?.stop();
  await sandbox?.stop();
});
beforeEach(() => {
  sandbox.stripe.reset();
  sandbox.hubspot.reset();
  sandbox.sendgrid.reset();
});

const newCustomer = async (name: string, email?: string) =>
  (await t.run(CreateCustomerDocument, { input: { name, email: email ?? `${name.toLowerCase().replace(/\W+/g, '.')}@example.com`, phone: '+1 555 0100' } })).createCustomer.customer.id;

/** A Stripe integration with this concurrency that the worker already knows (its first job takes the long way), and `count` new customers. */
async function knownStripe(name: string, concurrency: number, count: number) {
  const stripe = (
    await t.run(CreateIntegrationDocument, { input: { provider: 'STRIPE', name, baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, settings: { concurrency } } })
  ).createIntegration.integration;
  await waitForJobs(t, [(await t.run(PushCustomerDocument, { customerId: await newCustomer(`${name} Warmup`), integrationId: stripe.id })).pushCustomer.job.id]);
  sandbox.stripe.reset();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await newCustomer(`${name} ${i}`));
  return { stripe, ids };
}

/** Runs `work`, counting the statements the gateway sends that match each pattern. */
async function countStatements<K extends string>(patterns: Record<K, RegExp>, work: () => Promise<void>): Promise<Record<K, number>> {
  const counts = Object.fromEntries(Object.keys(patterns).map((k) => [k, 0])) as Record<K, number>;
  const logger = t.gateway.db.logger;
  const logQuery = logger.logQuery;
  logger.logQuery = function (query, ...rest) {
    for (const k of Object.keys(patterns) as K[]) if (patterns[k].test(query)) counts[k]++;
    return logQuery.call(this, query, ...rest);
  };
  try {
    await work();
  } finally {
    logger.logQuery = logQuery;
  }
  return counts;
}

/**
 * Until the worker has fetched past every entry committed so far: a job of another integration
 * (SendGrid), enqueued now, has completed. The fair fetch considers every integration's waiting
 * entries in one statement, so a fetch that took this job also passed over the others'.
 */
async function untilFetchedPast() {
  const { sendNotification } = await t.run(SendNotificationDocument, {
    integrationId: integrations.sendgrid.id,
    input: { to: 'marker@example.com', from: 'billing@example.com', templateId: 'd-0123456789abcdef0123456789abcdef' },
  });
  await waitForJobs(t, [sendNotification.job.id]);
}

describe('pushCustomer to Stripe', () => {
  it('enqueues a PENDING job at once, then creates the customer with the job key and links the ExternalRef', async () => {
    const customerId = await newCustomer('Ada Stripe');
    const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.stripe.id });
    expect(pushCustomer.job).toMatchObject({ status: 'PENDING', attempts: 0, operation: 'customer.upsert', entityId: customerId });
    await waitForJobs(t, [pushCustomer.job.id]);

    const { integrationJob } = await t.run(JobDocument, { id: pushCustomer.job.id });
    expect(integrationJob).toMatchObject({ status: 'COMPLETED', attempts: 1 });
    expect(integrationJob.logs).toHaveLength(1);
    expect(integrationJob.logs[0]).toMatchObject({ service: 'stripe', eventType: 'customer.upsert', direction: 'OUTBOUND', status: 'SUCCESS', httpStatus: 200, attempt: 1 });

    const [request] = sandbox.stripe.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/customers');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers.authorization).toBe(`Bearer ${STRIPE_KEY}`);
    expect(request.headers['idempotency-key']).toBe(`switchboard-${rowId(pushCustomer.job.id)}`);
    expect(request.body).toContain('name=Ada%20Stripe');
    expect(request.body).toContain(`metadata[switchboard_id]=${rowId(customerId)}`);

    const stripe = sandbox.stripe.state<StripeState>();
    const [stripeCustomer] = Object.values(stripe.customers);
    const { customer } = await t.run(CustomerDocument, { id: customerId });
    expect(customer.externalRefs).toEqual([expect.objectContaining({ provider: 'STRIPE', externalId: stripeCustomer.id, integrationId: integrations.stripe.id })]);
  });

  it('the same idempotencyKey returns the same job and calls the provider once', async () => {
    const customerId = await newCustomer('Idem Potent');
    const vars = { customerId, integrationId: integrations.stripe.id, idempotencyKey: 'push-idem-1' };
    const [a, b] = await Promise.all([t.run(PushCustomerDocument, vars), t.run(PushCustomerDocument, vars)]);
    expect(a.pushCustomer.job.id).toBe(b.pushCustomer.job.id);
    await waitForJobs(t, [a.pushCustomer.job.id]);
    const again = await t.run(PushCustomerDocument, vars);
    expect(again.pushCustomer.job).toMatchObject({ id: a.pushCustomer.job.id, status: 'COMPLETED' });
    expect(sandbox.stripe.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(1);
    // A second push after the first links updates the same Stripe customer.
    const second = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.stripe.id });
    await waitForJobs(t, [second.pushCustomer.job.id]);
    expect(Object.keys(sandbox.stripe.state<StripeState>().customers)).toHaveLength(1);
    expect(sandbox.stripe.requests.at(-1)!.path).toMatch(/^\/v1\/customers\/cus_/);
  });

  it('retries a timeout with the same Idempotency-Key, so the provider creates one object', async () => {
    const customerId = await newCustomer('Slow Answer');
    sandbox.stripe.setFaults({ latencyMs: 1500 });
    const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.stripe.id });
    await waitForJobs(t, [pushCustomer.job.id], ['RETRYING']);
    sandbox.stripe.setFaults({ latencyMs: 0 });
    await waitForJobs(t, [pushCustomer.job.id]);
    const { integrationJob } = await t.run(JobDocument, { id: pushCustomer.job.id });
    expect(integrationJob.status).toBe('COMPLETED');
    expect(integrationJob.attempts).toBeGreaterThanOrEqual(2);
    expect(integrationJob.logs[0]).toMatchObject({ status: 'FAILED', httpStatus: null });
    expect(integrationJob.logs[0].errorMsg).toMatch(/no answer within 1000 ms/);
    const keys = new Set(sandbox.stripe.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect(Object.values(sandbox.stripe.state<StripeState>().createdPerKey)).toEqual([1]);
  });

  /**
   * The first rate-limit reservation for this integration fails in PostgreSQL as a cancelled
   * statement would (57014, a failure that can pass); a sequence counts outside the aborted
   * transaction. Returns the clean-up.
   */
  async function failFirstReservation(integrationId: string): Promise<() => Promise<void>> {
    await t.sql(`CREATE SEQUENCE reservation_fault_seq`);
    await t.sql(`CREATE FUNCTION reservation_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.integration_id = '${integrationId}' AND nextval('reservation_fault_seq') = 1 THEN
          RAISE EXCEPTION 'injected reservation failure' USING ERRCODE = '57014';
        END IF;
        RETURN NEW;
      END $$`);
    await t.sql(`CREATE TRIGGER reservation_fault BEFORE INSERT ON integration_throttle FOR EACH ROW EXECUTE FUNCTION reservation_fault()`);
    return async () => {
      await t.sql(`DROP TRIGGER reservation_fault ON integration_throttle`);
      await t.sql(`DROP FUNCTION reservation_fault()`);
      await t.sql(`DROP SEQUENCE reservation_fault_seq`);
    };
  }

  /** A fresh Stripe integration: this process has no rate-limit instants leased for it yet. */
  const freshStripe = async (name: string) =>
    (await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name, baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, settings: { retryBaseDelayMs: 20, retryMaxDelayMs: 200, timeoutMs: 1000 } },
    })).createIntegration.integration;

  it("a failure of the gateway's own step (the rate-limit reservation) is retried, not a provider failure", async () => {
    const integration = await freshStripe('Stripe reservation fault');
    const integrationId = rowId(integration.id);
    const cleanUp = await failFirstReservation(integrationId);
    try {
      const customerId = await newCustomer('Reservation Fault');
      const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integration.id });
      await waitForJobs(t, [pushCustomer.job.id]);
      const { integrationJob } = await t.run(JobDocument, { id: pushCustomer.job.id });
      expect(integrationJob).toMatchObject({ status: 'COMPLETED', attempts: 2 });
      expect(integrationJob.logs.map((l) => l.status)).toEqual(['FAILED', 'SUCCESS']);
      expect(integrationJob.logs[0].errorMsg).toBe('rate-limit reservation failed in the gateway (SQLSTATE 57014); no request was sent for this step');
      expect(sandbox.stripe.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(1);
      const metrics = await scrapeMetrics(t.url, t.adminKey);
      expect(metrics).toMatch(new RegExp(`switchboard_provider_errors_total\\{[^}]*integration="${integrationId}"[^}]*kind="gateway"[^}]*\\} 1\\b`));
    } finally {
      await cleanUp();
    }
  });

  it('a half-open probe that fails in the gateway decides nothing: the circuit stays half-open until a real probe closes it', async () => {
    const integration = await freshStripe('Stripe probe fault');
    const integrationId = rowId(integration.id);
    // Opened long ago: the next job is the half-open probe.
    await t.sql(`UPDATE integration SET circuit = 'OPEN', circuit_opened_at = now() - interval '1 hour' WHERE id = $1`, [integrationId]);
    const cleanUp = await failFirstReservation(integrationId);
    try {
      const { pushCustomer } = await t.run(PushCustomerDocument, { customerId: await newCustomer('Probe Fault'), integrationId: integration.id });
      await waitForJobs(t, [pushCustomer.job.id]);
      expect((await t.run(JobDocument, { id: pushCustomer.job.id })).integrationJob).toMatchObject({ status: 'COMPLETED', attempts: 2 });
      // The probe's outcome is recorded on the circuit just after the job's own (a separate statement).
      await until(async () => (await t.sql<{ circuit: string }>('SELECT circuit FROM integration WHERE id = $1', [integrationId]))[0].circuit === 'CLOSED', 10_000, 20);
      expect(sandbox.stripe.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(1);
      // The failed probe left the circuit half-open: the retry (due 20-200 ms later) waited for that
      // probe's lease (2 x timeoutMs + 5 s) to run out and went as the next probe. Had the failure
      // closed the circuit, the retry would have run at once.
      const [{ gap }] = await t.sql<{ gap: number }>(
        `SELECT EXTRACT(EPOCH FROM j.completed_at - l.timestamp)::float8 AS gap
           FROM integration_job j JOIN integration_log l ON l.job_id = j.id AND l.status = 'FAILED' WHERE j.id = $1`,
        [rowId(pushCustomer.job.id)],
      );
      expect(gap).toBeGreaterThan(5);
    } finally {
      await cleanUp();
    }
  });

  it("an operator's cancel right after a failed attempt reaches subscribers after that attempt's RETRYING, however late the worker publishes", async () => {
    const integration = await freshStripe('Stripe cancel order');
    const customerId = await newCustomer('Cancel Order');
    const s = subscribe<{ integrationJobUpdated: { status: string } }>(t.url, t.adminKey, 'subscription($f: IntegrationEventFilter) { integrationJobUpdated(filter: $f) { status } }', {
      f: { entityId: customerId },
    });
    const publishCustomer = () => void t.gateway.services.customers.findByIds([rowId(customerId)]).then(([c]) => t.gateway.services.events.publish('customer.updated', c as Customer));
    await s.ready(customerId, publishCustomer);
    // The call takes 500 ms and gets a 429 asking for 60 s: the job goes RETRYING and waits.
    sandbox.stripe.setFaults({ latencyMs: 500, burst429: 1, retryAfterSeconds: 60 });
    const db = t.gateway.db;
    const query = db.query.bind(db);
    try {
      const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integration.id });
      const statuses = () => s.events.map((e) => e.integrationJobUpdated.status);
      await until(() => statuses().includes('PROCESSING'), 10_000);
      // From now on this process publishes after its commits a second late (a stalled event loop).
      // (A statement inside a transaction comes through here too, with its query runner: not delayed.)
      db.query = (async (sql: string, parameters?: unknown[], runner?: QueryRunner) => {
        if (!runner && sql.includes('pg_notify')) await new Promise((r) => setTimeout(r, 1000));
        return query(sql, parameters, runner);
      }) as typeof db.query;
      await waitForJobs(t, [pushCustomer.job.id], ['RETRYING']);
      expect((await t.run(CancelJobDocument, { id: pushCustomer.job.id })).cancelIntegrationJob.job.status).toBe('CANCELLED');
      await until(() => statuses().includes('CANCELLED') && statuses().includes('RETRYING'), 10_000);
      expect(statuses()).toEqual(['PENDING', 'PROCESSING', 'RETRYING', 'CANCELLED']);
    } finally {
      db.query = query;
      await s.dispose();
    }
  });

  it('a validation 4xx fails at once with the provider message, and the FAILED job can be retried', async () => {
    const customerId = await newCustomer('Bad Email', 'bad.email@example.com');
    await t.sql(`UPDATE customer SET email = 'not-an-email' WHERE id = $1`, [rowId(customerId)]);
    const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.stripe.id });
    await waitForJobs(t, [pushCustomer.job.id]);
    const { integrationJob } = await t.run(JobDocument, { id: pushCustomer.job.id });
    expect(integrationJob).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(integrationJob.lastError).toMatch(/Stripe 400 invalid_request_error \(email_invalid\): Invalid email address/);

    const failed = await t.run(JobsDocument, { filter: { integrationId: integrations.stripe.id, status: 'FAILED' } });
    expect(failed.integrationJobs.edges.map((e) => e.node.id)).toContain(pushCustomer.job.id);
    const retried = await t.run(RetryJobDocument, { id: pushCustomer.job.id });
    expect(retried.retryIntegrationJob.job).toMatchObject({ status: 'PENDING', attempts: 0 });
    await waitForJobs(t, [pushCustomer.job.id]);
    // Retrying a job that is not FAILED or CANCELLED is a conflict.
    expect(codes(await t.request(CancelJobDocument, { id: pushCustomer.job.id }))).toEqual(['CONFLICT']);
  });

  it('auto-sync: createCustomer enqueues a job in the same transaction for integrations that sync customers', async () => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'auto', baseUrl: sandbox.stripe.url, credentials: { apiKey: STRIPE_KEY }, autoSync: ['Customer'] },
    });
    try {
      const { createCustomer } = await t.run(CreateCustomerWithJobsDocument, { input: { name: 'Auto Synced', email: 'auto@example.com' } });
      expect(createCustomer.jobs).toHaveLength(1);
      expect(createCustomer.jobs[0]).toMatchObject({ operation: 'customer.upsert', status: 'PENDING', integration: { id: createIntegration.integration.id } });
      await waitForJobs(t, [createCustomer.jobs[0].id]);
      // A failed canonical write enqueues nothing.
      const before = await t.sql('SELECT id FROM integration_job');
      expect(codes(await t.request(CreateCustomerWithJobsDocument, { input: { name: 'Dup', email: 'AUTO@example.com' } }))).toEqual(['CONFLICT']);
      expect(await t.sql('SELECT id FROM integration_job')).toHaveLength(before.length);
    } finally {
      await t.sql(`UPDATE integration SET auto_sync = '{}' WHERE id = $1`, [rowId(createIntegration.integration.id)]);
    }
  });
});

describe('sendInvoice to Stripe', () => {
  it('creates the invoice, its items, finalizes and sends it; the canonical invoice becomes OPEN', async () => {
    const customerId = await newCustomer('Invoice Customer');
    const { createInvoice } = await t.run(CreateInvoiceDocument, {
      input: { customerId, currency: 'EUR', tax: '1.00', lineItems: [{ description: 'Plan', quantity: 2, unitAmount: '10.50' }, { description: 'Setup', quantity: 1, unitAmount: '5' }] },
    });
    const { sendInvoice } = await t.run(SendInvoiceDocument, { invoiceId: createInvoice.invoice.id, integrationId: integrations.stripe.id });
    await waitForJobs(t, [sendInvoice.job.id]);
    const paths = sandbox.stripe.requests.map((r) => `${r.method} ${r.path.replace(/(cus|in)_\w+/, '$1_X')}`);
    expect(paths).toEqual(['POST /v1/customers', 'POST /v1/invoices', 'POST /v1/invoiceitems', 'POST /v1/invoiceitems', 'POST /v1/invoiceitems', 'POST /v1/invoices/in_X/finalize', 'POST /v1/invoices/in_X/send']);
    const stripe = sandbox.stripe.state<StripeState>();
    const [invoice] = Object.values(stripe.invoices);
    // Line items plus the tax item: the Stripe total matches the canonical total (27.00).
    expect(invoice).toMatchObject({ status: 'open', currency: 'eur', total: 2700, collection_method: 'send_invoice' });
    const { invoice: canonical } = await t.run(InvoiceDocument, { id: createInvoice.invoice.id });
    expect(canonical.status).toBe('OPEN');
    expect(canonical.issuedAt).not.toBeNull();
  });
});

describe('HubSpot and SendGrid', () => {
  it('upserts a HubSpot contact by email and a deal by contract id, linking both', async () => {
    const customerId = await newCustomer('Grace Hopper', 'Grace@Example.com');
    const push = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.hubspot.id });
    await waitForJobs(t, [push.pushCustomer.job.id]);
    const upsert = sandbox.hubspot.requests[0];
    expect(upsert.path).toBe('/crm/v3/objects/contacts/batch/upsert');
    expect(upsert.headers.authorization).toBe(`Bearer ${HUBSPOT_TOKEN}`);
    expect(JSON.parse(upsert.body)).toMatchObject({ inputs: [{ idProperty: 'email', id: 'grace@example.com', properties: { firstname: 'Grace', lastname: 'Hopper' } }] });
    // Pushing twice updates the same contact.
    const again = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.hubspot.id });
    await waitForJobs(t, [again.pushCustomer.job.id]);
    const state = sandbox.hubspot.state<HubSpotState>();
    expect(Object.keys(state.contacts)).toHaveLength(1);
    // Once linked, by the contact's id (an email change must not make a second contact).
    expect(sandbox.hubspot.requests[1]).toMatchObject({ method: 'PATCH', path: `/crm/v3/objects/contacts/${Object.keys(state.contacts)[0]}` });

    await t.run(CreateIntegrationDocument, { input: { provider: 'HUBSPOT', name: 'deals', baseUrl: sandbox.hubspot.url, credentials: { accessToken: HUBSPOT_TOKEN }, autoSync: ['Contract'] } });
    const { createContract } = await t.run(CreateContractDocument, { input: { customerId, title: 'Enterprise', value: { amount: '1200.00', currency: 'USD' } } });
    expect(createContract.jobs).toHaveLength(1);
    await waitForJobs(t, [createContract.jobs[0].id]);
    const deal = Object.values(sandbox.hubspot.state<HubSpotState>().deals)[0];
    expect(deal.properties).toMatchObject({ dealname: 'Enterprise', amount: '1200.00', switchboard_contract_id: rowId(createContract.contract.id) });
  });

  it('sends a SendGrid dynamic-template email (202) and refuses a non-template id', async () => {
    const { sendNotification } = await t.run(SendNotificationDocument, {
      integrationId: integrations.sendgrid.id,
      input: { to: 'ann@example.com', from: 'billing@acme.test', templateId: 'd-0123456789abcdef0123456789abcdef', kind: 'invoice_sent', data: { total: '12.00' } },
    });
    await waitForJobs(t, [sendNotification.job.id]);
    const [request] = sandbox.sendgrid.requests;
    expect(request.headers.authorization).toBe(`Bearer ${SENDGRID_KEY}`);
    expect(JSON.parse(request.body)).toMatchObject({
      from: { email: 'billing@acme.test' },
      personalizations: [{ to: [{ email: 'ann@example.com' }], dynamic_template_data: { total: '12.00' } }],
      template_id: 'd-0123456789abcdef0123456789abcdef',
    });
    expect(sandbox.sendgrid.state<SendGridState>().messages).toHaveLength(1);
    const bad = await t.request(SendNotificationDocument, { integrationId: integrations.sendgrid.id, input: { to: 'ann@example.com', from: 'billing@acme.test', templateId: 'welcome' } });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
    // An operation the provider does not support is refused, naming the integration.
    const wrong = await t.request(PushCustomerDocument, { customerId: await newCustomer('Nope'), integrationId: integrations.sendgrid.id });
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(wrong.body.errors![0].extensions!.field).toBe('integrationId');
  });
});

describe('pushCustomers', () => {
  it('enqueues one PENDING job per customer in the order given; a fetched batch starts in one statement; each customer is created once', async () => {
    // Room for every call the worker holds (WORKER_CONCURRENCY 20): none waits for a slot.
    const { stripe, ids } = await knownStripe('Stripe bulk', 50, 30);
    const cohortStatements = await countStatements({ start: /WITH req AS/ }, async () => {
      const { pushCustomers } = await t.run(PushCustomersDocument, { customerIds: ids, integrationId: stripe.id });
      expect(pushCustomers.jobs.map((j) => j.entityId)).toEqual(ids);
      expect(pushCustomers.jobs.every((j) => j.status === 'PENDING' && j.operation === 'customer.upsert')).toBe(true);
      expect(new Set(pushCustomers.jobs.map((j) => j.id)).size).toBe(30);
      await waitForJobs(t, pushCustomers.jobs.map((j) => j.id));
    });
    const created = sandbox.stripe.requests.filter((r) => r.path === '/v1/customers');
    expect(created).toHaveLength(30);
    expect(Object.values(sandbox.stripe.state<StripeState>().createdPerKey).every((n) => n === 1)).toBe(true);
    const linked = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM external_ref WHERE integration_id = $1 AND entity_id = ANY($2)`, [rowId(stripe.id), ids.map(rowId)]);
    expect(linked[0].n).toBe(30);
    // Attempts of a fetched batch start in one statement: 11 start statements for 30 jobs here.
    // Completions share a statement only when they finish in the same turn of the event loop,
    // which under a test's light load they do not (30 completion statements here; under the
    // benchmark's load, about 20 jobs a statement): this test pins the start cohort only, and
    // the next one makes calls finish together to pin the completion cohort.
    expect(cohortStatements.start).toBeGreaterThan(0);
    expect(cohortStatements.start).toBeLessThan(30);
  });

  it('calls that finish together complete in one statement; when that statement fails, the others complete one by one and only the bad job is tried again', async () => {
    // A proxy in front of the fake Stripe that holds its answers until `release` calls are
    // waiting, then sends them all at once: the calls finish in the same turn of the worker.
    let release = Infinity;
    const held: Array<() => void> = [];
    const proxy = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        const headers = Object.fromEntries(['authorization', 'content-type', 'idempotency-key', 'stripe-version'].map((h) => [h, String(req.headers[h] ?? '')]));
        const answer = await fetch(`${sandbox.stripe.url}${req.url}`, { method: req.method, headers, body: body || undefined });
        const text = await answer.text();
        held.push(() => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text));
        if (held.length >= release) for (const send of held.splice(0)) send();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { stripe, ids } = await knownStripe('Stripe together', 50, 16);
    // Another host (port): the credentials must come again in the same call.
    await t.run(UpdateIntegrationDocument, { id: stripe.id, input: { baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, credentials: { apiKey: STRIPE_KEY } } });
    const completions = /SET status = 'COMPLETED', result = x.result/;
    try {
      release = 8;
      const together = await countStatements({ completions }, async () => {
        const { pushCustomers } = await t.run(PushCustomersDocument, { customerIds: ids.slice(0, 8), integrationId: stripe.id });
        expect(new Set((await waitForJobs(t, pushCustomers.jobs.map((j) => j.id))).values())).toEqual(new Set(['COMPLETED']));
      });
      // Eight calls answered at once: fewer completion statements than jobs (one, usually).
      expect(together.completions).toBeLessThan(8);

      // The log row of one job cannot be written (a trigger stands in for any bad row).
      const { pushCustomers } = await t.run(PauseIntegrationDocument, { id: stripe.id }).then(() =>
        t.run(PushCustomersDocument, { customerIds: ids.slice(8), integrationId: stripe.id }),
      );
      const jobs = pushCustomers.jobs.map((j) => rowId(j.id));
      const bad = jobs[3];
      await t.sql(`CREATE FUNCTION refuse_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$`);
      await t.sql(`CREATE TRIGGER refuse_log BEFORE INSERT ON integration_log FOR EACH ROW WHEN (NEW.job_id = '${bad}') EXECUTE FUNCTION refuse_log()`);
      await t.run(ResumeIntegrationDocument, { id: stripe.id });
      const others = jobs.filter((id) => id !== bad);
      expect(new Set((await waitForJobs(t, others, undefined, 15_000)).values())).toEqual(new Set(['COMPLETED']));
      // Each of the others completed from its first and only call: the failed cohort statement did not cost them an attempt.
      expect(await t.sql(`SELECT DISTINCT attempts FROM integration_job WHERE id = ANY($1)`, [others])).toEqual([{ attempts: 1 }]);
      expect((await t.sql(`SELECT status FROM integration_job WHERE id = $1`, [bad]))[0].status).not.toBe('COMPLETED');
      await t.sql(`DROP TRIGGER refuse_log ON integration_log`);
      release = 1;
      for (const send of held.splice(0)) send();
      expect(await waitForJobs(t, [bad])).toEqual(new Map([[bad, 'COMPLETED']]));
      // Tried again with its key: the fake Stripe created one customer for it, as for every job.
      const perKey = sandbox.stripe.state<StripeState>().createdPerKey;
      expect(jobs.map((id) => perKey[`switchboard-${id}`])).toEqual(jobs.map(() => 1));
    } finally {
      await t.sql(`DROP TRIGGER IF EXISTS refuse_log ON integration_log`);
      await t.sql(`DROP FUNCTION IF EXISTS refuse_log()`);
      for (const send of held.splice(0)) send();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("jobs beyond the integration's concurrency wait for a slot in the worker: the limit holds, and they do not ask the database over and over", async () => {
    const { stripe, ids } = await knownStripe('Stripe two slots', 2, 10);
    sandbox.stripe.setFaults({ latencyMs: 200 });
    const { starts } = await countStatements({ starts: /WITH req AS/ }, async () => {
      const { pushCustomers } = await t.run(PushCustomersDocument, { customerIds: ids, integrationId: stripe.id });
      const done = await waitForJobs(t, pushCustomers.jobs.map((j) => j.id));
      expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));
    });
    const calls = sandbox.stripe.requests;
    expect(calls).toHaveLength(10);
    const inFlight = Math.max(...calls.map((c) => calls.filter((d) => d.at <= c.at && c.at < d.answeredAt!).length));
    expect(inFlight).toBe(2);
    // Eight jobs wait 0.2 to 1 s each. When each asked again on its own every 10 to 200 ms, this
    // took about 60 start statements; at the gate it is about one per job plus a poll per 100 ms
    // (17 here).
    expect(starts).toBeLessThan(30);
  });

  it('with an idempotencyKey, a repeat returns the same jobs and enqueues only customers not named before', async () => {
    const { stripe } = integrations;
    const [a, b, c] = [await newCustomer('Key One'), await newCustomer('Key Two'), await newCustomer('Key Three')];
    const first = (await t.run(PushCustomersDocument, { customerIds: [a, b], integrationId: stripe.id, idempotencyKey: 'bulk-key-1' })).pushCustomers.jobs;
    const again = (await t.run(PushCustomersDocument, { customerIds: [b, a, c], integrationId: stripe.id, idempotencyKey: 'bulk-key-1' })).pushCustomers.jobs;
    expect(again.map((j) => j.id).slice(0, 2)).toEqual([first[1].id, first[0].id]);
    expect(first.map((j) => j.id)).not.toContain(again[2].id);
    expect(again[2].entityId).toBe(c);
    await waitForJobs(t, again.map((j) => j.id));
    expect(sandbox.stripe.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(3);
    // The key of pushCustomer names one job; pushCustomers keys each customer's job under it.
    const single = await t.request(PushCustomerDocument, { customerId: a, integrationId: stripe.id, idempotencyKey: `bulk-key-1:${a}` });
    expect(single.body.errors).toBeUndefined();
    expect((single.body.data as { pushCustomer: { job: { id: string } } }).pushCustomer.job.id).toBe(first[0].id);
  });

  it.each([
    ['no customers', 'customerIds', () => Promise.resolve([] as string[])],
    ['a customer twice', 'customerIds[1]', async () => { const id = await newCustomer('Twice'); return [id, id]; }],
    ['an unknown customer', 'customerIds[1]', async () => [await newCustomer('Known'), Buffer.from('Customer:0190b2a8-7a3e-7c1e-9f00-000000000000').toString('base64url')]],
    ['an id of another type', 'customerIds[1]', async () => [await newCustomer('Typed'), Buffer.from('Invoice:0190b2a8-7a3e-7c1e-9f00-000000000000').toString('base64url')]],
    ['501 customers', 'customerIds', async () => Array.from({ length: 501 }, () => Buffer.from(`Customer:${crypto.randomUUID()}`).toString('base64url'))],
  ])('refuses %s with BAD_USER_INPUT naming %s, enqueuing nothing', async (_case, field, ids) => {
    const before = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration_job`);
    const res = await t.request(PushCustomersDocument, { customerIds: await ids(), integrationId: integrations.stripe.id });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors![0].extensions!.field).toBe(field);
    const after = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM integration_job`);
    expect(after[0].n).toBe(before[0].n);
  });

  it('refuses an idempotencyKey too long to key each job, and an operation the provider lacks', async () => {
    const id = await newCustomer('Long Key');
    const long = await t.request(PushCustomersDocument, { customerIds: [id], integrationId: integrations.stripe.id, idempotencyKey: 'k'.repeat(140) });
    expect(codes(long)).toEqual(['BAD_USER_INPUT']);
    expect(long.body.errors![0].extensions!.field).toBe('idempotencyKey');
    const wrong = await t.request(PushCustomersDocument, { customerIds: [id], integrationId: integrations.sendgrid.id });
    expect(codes(wrong)).toEqual(['BAD_USER_INPUT']);
    expect(wrong.body.errors![0].extensions!.field).toBe('integrationId');
  });
});

describe('per-entity order', () => {
  const keyOf = (jobId: string) => `switchboard-${rowId(jobId)}`;
  /** The Stripe requests of these jobs, in the order they arrived. */
  const callsOf = (jobIds: string[]) => {
    const keys = jobIds.map(keyOf);
    return sandbox.stripe.requests.filter((r) => keys.includes(r.headers['idempotency-key'] as string));
  };
  /** Two jobs for one new customer, the first meeting a 429 with this Retry-After. */
  const twoJobsFirstThrottled = async (name: string, retryAfterSeconds: number) => {
    const x = await newCustomer(name);
    sandbox.stripe.setFaults({ burst429: 1, retryAfterSeconds });
    const push = async () => (await t.run(PushCustomerDocument, { customerId: x, integrationId: integrations.stripe.id })).pushCustomer.job.id;
    const first = await push();
    return { first, second: await push() };
  };

  it("one entity's jobs run one at a time in the order enqueued, while another entity's jobs run beside them", async () => {
    const { stripe } = integrations;
    sandbox.stripe.setFaults({ latencyMs: 150 });
    const x = await newCustomer('Order X');
    const y = await newCustomer('Order Y');
    const xs: string[] = [];
    const ys: string[] = [];
    for (let i = 0; i < 4; i++) {
      xs.push((await t.run(PushCustomerDocument, { customerId: x, integrationId: stripe.id })).pushCustomer.job.id);
      if (i < 2) ys.push((await t.run(PushCustomerDocument, { customerId: y, integrationId: stripe.id })).pushCustomer.job.id);
    }
    const done = await waitForJobs(t, [...xs, ...ys]);
    expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));
    const xCalls = callsOf(xs);
    expect(xCalls.map((r) => r.headers['idempotency-key'])).toEqual(xs.map(keyOf));
    for (let i = 1; i < xCalls.length; i++) expect(xCalls[i].at).toBeGreaterThanOrEqual(xCalls[i - 1].answeredAt!);
    // The first job created each customer and the later ones updated it: one Stripe customer each.
    expect(Object.keys(sandbox.stripe.state<StripeState>().customers)).toHaveLength(2);
    // The order is per entity: some call of Y ran while a call of X was in flight.
    const overlaps = callsOf(ys).some((c) => xCalls.some((d) => c.at < d.answeredAt! && d.at < c.answeredAt!));
    expect(overlaps).toBe(true);
  });

  it('a job enqueued while an earlier job of its entity is not yet committed waits for that commit, so the two run in order, never at once', async () => {
    const { stripe } = integrations;
    const x = await newCustomer('Order Uncommitted');
    const customer = (await t.gateway.db.getRepository(CustomerEntity).findOneBy({ id: rowId(x) }))!;
    sandbox.stripe.setFaults({ latencyMs: 300 });
    // The first job's transaction draws its number, then stays open.
    let commit!: () => void;
    const held = new Promise<void>((resolve) => (commit = resolve));
    let first = '';
    const firstTx = t.gateway.db.transaction(async (tx) => {
      const integration = (await tx.findOneBy(Integration, { id: rowId(stripe.id) }))!;
      const [job] = await t.gateway.services.jobs.enqueueMany(tx, [
        { integration, operation: 'customer.upsert', entityType: 'Customer', entityId: customer.id, payload: customerPayload(customer), correlationId: 'order-uncommitted' },
      ]);
      first = toGlobalId('IntegrationJob', job.id);
      await held;
    });
    await until(() => first !== '');
    const second = t.run(PushCustomerDocument, { customerId: x, integrationId: stripe.id });
    // The second enqueue waits for the first's commit (the entity's order lock), rather than
    // drawing a later number and starting before the first is even visible.
    await until(async () => (await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`))[0].n > 0, 10_000);
    commit();
    await firstTx;
    const secondId = (await second).pushCustomer.job.id;
    await waitForJobs(t, [first, secondId]);
    const calls = callsOf([first, secondId]);
    expect(calls.map((r) => r.headers['idempotency-key'])).toEqual([keyOf(first), keyOf(secondId)]);
    expect(calls[1].at).toBeGreaterThanOrEqual(calls[0].answeredAt!);
  });

  it('a job waiting for its retry keeps its place: the next job of its entity waits, and is woken when the first completes', async () => {
    const { first, second } = await twoJobsFirstThrottled('Order Retry', 1);
    // Well within the 10 s a job behind another waits before it looks again by itself.
    const done = await waitForJobs(t, [first, second], undefined, 8_000);
    expect([...done.values()]).toEqual(['COMPLETED', 'COMPLETED']);
    const calls = callsOf([first, second]);
    expect(calls.map((r) => [r.headers['idempotency-key'], r.status])).toEqual([
      [keyOf(first), 429],
      [keyOf(first), 200],
      [keyOf(second), 200],
    ]);
    expect(calls[2].at).toBeGreaterThanOrEqual(calls[1].answeredAt!);
  });

  it('a cancelled job lets the next job of its entity run at once', async () => {
    // The first job waits out a long Retry-After; the second waits behind it.
    const { first, second } = await twoJobsFirstThrottled('Order Cancel', 30);
    await waitForJobs(t, [first], ['RETRYING']);
    await expect.poll(async () => (await t.sql(`SELECT next_attempt_at FROM integration_job WHERE id = $1`, [rowId(second)]))[0].next_attempt_at).not.toBeNull();
    await t.run(CancelJobDocument, { id: first });
    expect(await waitForJobs(t, [second], undefined, 8_000)).toEqual(new Map([[rowId(second), 'COMPLETED']]));
    expect(callsOf([second]).map((r) => r.status)).toEqual([200]);
  });
});

describe('operators', () => {
  it('a paused integration holds its jobs; resume runs them; cancel stops a waiting job', async () => {
    const { stripe } = integrations;
    await t.run(PauseIntegrationDocument, { id: stripe.id });
    const a = await t.run(PushCustomerDocument, { customerId: await newCustomer('Paused One'), integrationId: stripe.id });
    const b = await t.run(PushCustomerDocument, { customerId: await newCustomer('Paused Two'), integrationId: stripe.id });
    // The worker passes them over: they are not fetched (no worker place, no attempt), no call is made.
    await untilFetchedPast();
    expect(sandbox.stripe.requests).toHaveLength(0);
    const waiting = await t.sql(`SELECT q.state FROM pgboss.job q JOIN integration_job j ON q.id = j.queue_job_id WHERE j.id = ANY($1)`, [
      [rowId(a.pushCustomer.job.id), rowId(b.pushCustomer.job.id)],
    ]);
    expect(waiting).toEqual([{ state: 'created' }, { state: 'created' }]);
    const cancelled = await t.run(CancelJobDocument, { id: b.pushCustomer.job.id });
    expect(cancelled.cancelIntegrationJob.job.status).toBe('CANCELLED');
    const resumed = await t.run(ResumeIntegrationDocument, { id: stripe.id });
    expect(resumed.resumeIntegration.integration.status).toBe('ACTIVE');
    // Resume wakes the put-off job at once: well before its 30 s re-check would.
    await waitForJobs(t, [a.pushCustomer.job.id], undefined, 10_000);
    expect((await t.run(JobDocument, { id: a.pushCustomer.job.id })).integrationJob.status).toBe('COMPLETED');
    expect(sandbox.stripe.requests).toHaveLength(1);
  });

  it('a waiting job whose queue entry is gone (pg-boss retention after a long stop) is queued again by the orphan sweep, keeps its place, and runs once', async () => {
    const { stripe } = integrations;
    await t.run(PauseIntegrationDocument, { id: stripe.id });
    const customerId = await newCustomer('Orphan Entry');
    const first = rowId((await t.run(PushCustomerDocument, { customerId, integrationId: stripe.id })).pushCustomer.job.id);
    const second = rowId((await t.run(PushCustomerDocument, { customerId, integrationId: stripe.id, idempotencyKey: 'orphan-second' })).pushCustomer.job.id);
    await untilFetchedPast();
    const live = async (jobId: string) =>
      (await t.sql(`SELECT count(*)::int AS n FROM pgboss.job q JOIN integration_job j ON q.id = j.queue_job_id WHERE j.id = $1 AND q.state < 'completed'`, [jobId]))[0].n;
    // What pg-boss's maintenance does to an entry still waiting 14 days past its start time.
    await t.sql(`DELETE FROM pgboss.job WHERE id = (SELECT queue_job_id FROM integration_job WHERE id = $1)`, [first]);
    expect(await live(first)).toBe(0);

    const requeued = await t.gateway.services.jobs.requeueOrphans();
    // (Unless the 5-minute sweep of the gateway itself came first: then it finds nothing.)
    expect([[first], []]).toContainEqual(requeued.map((j) => j.id));
    expect(requeued.every((j) => j.status === 'PENDING')).toBe(true);
    expect(await live(first)).toBe(1);
    expect(await live(second)).toBe(1);
    // A second sweep finds nothing: the job has its entry again.
    expect(await t.gateway.services.jobs.requeueOrphans()).toEqual([]);

    await t.run(ResumeIntegrationDocument, { id: stripe.id });
    expect(await waitForJobs(t, [first, second], undefined, 10_000)).toEqual(
      new Map([
        [first, 'COMPLETED'],
        [second, 'COMPLETED'],
      ]),
    );
    // It kept its place: the job enqueued after it ran after it, and each ran once.
    const keys = sandbox.stripe.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([`switchboard-${first}`, `switchboard-${second}`]);
  });

  it('jobs being put off while a resume runs are not left waiting for the 30 s re-check', async () => {
    const { stripe } = integrations;
    // A race, so three rounds: each pauses while the worker is fetching and starting the round's
    // jobs (entries fetched before the pause find it at their start and are put off), then
    // resumes while those are being put off.
    for (let round = 0; round < 3; round++) {
      const customers = await Promise.all(Array.from({ length: 40 }, (_, i) => newCustomer(`Race ${round}.${i}`)));
      const jobs = await Promise.all(customers.map(async (customerId) => (await t.run(PushCustomerDocument, { customerId, integrationId: stripe.id })).pushCustomer.job.id));
      await t.run(PauseIntegrationDocument, { id: stripe.id });
      await t.run(ResumeIntegrationDocument, { id: stripe.id });
      const done = await waitForJobs(t, jobs, undefined, 10_000);
      expect(new Set(done.values())).toEqual(new Set(['COMPLETED']));
    }
  });

  it("finished outbound queue entries are kept an hour, not pg-boss's default week (the job row is the record)", async () => {
    const { stripe } = integrations;
    const job = (await t.run(PushCustomerDocument, { customerId: await newCustomer('Short Keep'), integrationId: stripe.id })).pushCustomer.job;
    await waitForJobs(t, [job.id]);
    expect(await t.sql(`SELECT deletion_seconds FROM pgboss.job q JOIN integration_job j ON q.id = j.queue_job_id WHERE j.id = $1`, [rowId(job.id)])).toEqual([
      { deletion_seconds: 3600 },
    ]);
    expect(await t.sql(`SELECT deletion_seconds FROM pgboss.queue WHERE name = 'provider-calls'`)).toEqual([{ deletion_seconds: 3600 }]);
  });

  it('a queue fetch slower than QUEUE_SLOW_FETCH_MS refreshes the statistics of the queue table', async () => {
    // Every fetch counts as slow here; the worker's idle polls are fetches too.
    const g = await startTestGateway({ QUEUE_SLOW_FETCH_MS: '0' });
    try {
      const [{ table_name: table }] = await g.sql<{ table_name: string }>(`SELECT table_name FROM pgboss.queue WHERE name = 'provider-calls'`);
      // analyze_count counts ANALYZE commands only (autovacuum's are autoanalyze_count).
      const analyzed = async () =>
        (await g.sql<{ n: number }>(`SELECT analyze_count::int AS n FROM pg_stat_user_tables WHERE schemaname = 'pgboss' AND relname = $1`, [table]))[0]?.n ?? 0;
      await expect.poll(analyzed, { timeout: 15_000, interval: 200 }).toBeGreaterThan(0);
    } finally {
      await g.stop();
    }
  });

  it('a stopping worker hands fetched entries it never started back to the queue', async () => {
    // Two places and one entry held ready beyond them; calls slow enough to stop mid-call.
    const own = await startSandbox();
    const g = await startTestGateway({ WORKER_CONCURRENCY: '2', SHUTDOWN_TIMEOUT_MS: '5000' });
    try {
      const { stripe } = await createIntegrations(g, own);
      own.stripe.setFaults({ latencyMs: 1_000 });
      const customers = await Promise.all(Array.from({ length: 5 }, async (_, i) => (await g.run(CreateCustomerDocument, { input: { name: `Held ${i}`, email: `held${i}@example.com` } })).createCustomer.customer.id));
      const jobs = await Promise.all(customers.map(async (customerId) => (await g.run(PushCustomerDocument, { customerId, integrationId: stripe.id })).pushCustomer.job.id));
      const active = async () => (await g.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'provider-calls' AND state = 'active'`))[0].n;
      await expect.poll(active, { timeout: 10_000, interval: 50 }).toBe(3);
      await g.gateway.stop();
      // The two calls in flight finished; the ready entry is back in the queue, not left active
      // until its heartbeat runs out.
      expect(await active()).toBe(0);
      const statuses = await g.sql<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM integration_job WHERE id = ANY($1) GROUP BY status ORDER BY status`, [jobs.map(rowId)]);
      expect(statuses).toEqual([
        { status: 'COMPLETED', n: 2 },
        { status: 'PENDING', n: 3 },
      ]);
    } finally {
      await g.stop();
      await own.stop();
    }
  });

  it('a circuit opened by another process holds jobs of an integration the worker already knows: they are not even fetched', async () => {
    const { stripe } = integrations;
    // The worker has run a job of this integration, so the next one takes the fast path.
    const first = await t.run(PushCustomerDocument, { customerId: await newCustomer('Before Outage'), integrationId: stripe.id });
    await waitForJobs(t, [first.pushCustomer.job.id]);
    sandbox.stripe.reset();
    // A circuit change does not bump the integration's version: only the start statement sees it.
    await t.sql(`UPDATE integration SET circuit = 'OPEN', circuit_opened_at = now() + interval '1 hour' WHERE id = $1`, [rowId(stripe.id)]);
    try {
      const held = await t.run(PushCustomerDocument, { customerId: await newCustomer('During Outage'), integrationId: stripe.id });
      const heldId = rowId(held.pushCustomer.job.id);
      // The fetch passes over an integration whose circuit is open: the job takes no worker place.
      await untilFetchedPast();
      expect((await t.run(JobDocument, { id: held.pushCustomer.job.id })).integrationJob).toMatchObject({ status: 'PENDING', attempts: 0 });
      expect(await t.sql(`SELECT q.state FROM pgboss.job q JOIN integration_job j ON q.id = j.queue_job_id WHERE j.id = $1`, [heldId])).toEqual([{ state: 'created' }]);
      expect(sandbox.stripe.requests).toHaveLength(0);
      await t.run(CancelJobDocument, { id: held.pushCustomer.job.id });
    } finally {
      await t.sql(`UPDATE integration SET circuit = 'CLOSED', circuit_opened_at = NULL WHERE id = $1`, [rowId(stripe.id)]);
    }
  });

  it('replays the dead-letter queue of an integration', async () => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'wrong key', baseUrl: sandbox.stripe.url, credentials: { apiKey: 'rk_live_wrong' } },
    });
    const id = createIntegration.integration.id;
    const jobs = await Promise.all(['Dlq One', 'Dlq Two'].map(async (n) => (await t.run(PushCustomerDocument, { customerId: await newCustomer(n), integrationId: id })).pushCustomer.job.id));
    const done = await waitForJobs(t, jobs);
    expect([...done.values()]).toEqual(['FAILED', 'FAILED']);
    expect((await t.run(JobDocument, { id: jobs[0] })).integrationJob.lastError).toMatch(/Stripe 401/);
    // The operator fixes the key (credential rotation), then replays the dead letters.
    await t.run(UpdateIntegrationDocument, { id, input: { credentials: { apiKey: STRIPE_KEY } } });
    const { replayFailedIntegrationJobs } = await t.run(ReplayFailedDocument, { integrationId: id });
    expect(replayFailedIntegrationJobs.jobs.map((j) => j.status)).toEqual(['PENDING', 'PENDING']);
    const replayed = await waitForJobs(t, jobs);
    expect([...replayed.values()]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(Object.keys(sandbox.stripe.state<StripeState>().customers)).toHaveLength(2);
  });

  it('filters jobs and logs by integration, status, entity and correlation id', async () => {
    const customerId = await newCustomer('Filter Me');
    const { pushCustomer } = await t.run(PushCustomerDocument, { customerId, integrationId: integrations.stripe.id }, { key: t.adminKey });
    await waitForJobs(t, [pushCustomer.job.id]);
    const byEntity = await t.run(JobsDocument, { filter: { entityId: customerId } });
    expect(byEntity.integrationJobs.edges.map((e) => e.node.id)).toEqual([pushCustomer.job.id]);
    const byCorrelation = await t.run(LogsDocument, { filter: { correlationId: pushCustomer.job.correlationId } });
    expect(byCorrelation.integrationLogs.edges.map((e) => e.node.jobId)).toEqual([pushCustomer.job.id]);
    const since = await t.run(LogsDocument, { filter: { integrationId: integrations.stripe.id, since: new Date(Date.now() + 60_000).toISOString() } });
    expect(since.integrationLogs.totalCount).toBe(0);
  });
});

describe('upgrade', () => {
  it("moves the entries an earlier version left in its key_strict_fifo queue to the current queue, and deletes that queue", async () => {
    const g = await startTestGateway();
    const boss = new PgBoss({ connectionString: g.databaseUrl, schema: 'pgboss', supervise: false, schedule: false, max: 2 });
    const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-data-'));
    let next: Gateway[] = [];
    try {
      const { stripe } = await createIntegrations(g, sandbox);
      const customerId = (await g.run(CreateCustomerDocument, { input: { name: 'Legacy Queue', email: 'legacy.queue@example.com' } })).createCustomer.customer.id;
      await g.run(PauseIntegrationDocument, { id: stripe.id });
      const jobId = (await g.run(PushCustomerDocument, { customerId, integrationId: stripe.id })).pushCustomer.job.id;
      const row = rowId(jobId);
      // What an earlier version left behind: the job's entry in its queue `outbound` (key_strict_fifo).
      await boss.start();
      await boss.createQueue('outbound', { policy: 'key_strict_fifo' });
      const legacy = await boss.send('outbound', { jobId: row, integrationId: rowId(stripe.id) }, { singletonKey: `${rowId(stripe.id)}:Customer:${rowId(customerId)}` });
      await g.sql(`DELETE FROM pgboss.job WHERE name = 'provider-calls' AND id = (SELECT queue_job_id FROM integration_job WHERE id = $1)`, [row]);
      await g.sql(`UPDATE integration_job SET queue_job_id = $2 WHERE id = $1`, [row, legacy]);
      await g.run(ResumeIntegrationDocument, { id: stripe.id });
      // The current queue as an earlier version created it: finished entries kept pg-boss's week.
      await g.sql(`UPDATE pgboss.queue SET deletion_seconds = 604800 WHERE name = 'provider-calls'`);

      // A process of this version starts on the same database (two at once: the next test). A small
      // pool: CI runs these tests beside the others on a server with 100 connections.
      next = [await startGateway(testEnv(g.databaseUrl, dataDir, { ENCRYPTION_KEY: g.env.ENCRYPTION_KEY!, DB_POOL_SIZE: '2' }), createLogger('silent'))];
      expect(await g.sql(`SELECT name FROM pgboss.queue WHERE name = 'outbound'`)).toEqual([]);
      expect(await g.sql(`SELECT deletion_seconds FROM pgboss.queue WHERE name = 'provider-calls'`)).toEqual([{ deletion_seconds: 3600 }]);
      expect(await waitForJobs(g, [jobId])).toEqual(new Map([[row, 'COMPLETED']]));
      const [{ queue_job_id: entry }] = await g.sql<{ queue_job_id: string }>(`SELECT queue_job_id FROM integration_job WHERE id = $1`, [row]);
      expect(entry).not.toBe(legacy);
      // In the current queue, in its integration's group (the fair fetch's unit).
      expect((await g.sql(`SELECT name, group_id FROM pgboss.job WHERE id = $1`, [entry]))[0]).toEqual({ name: 'provider-calls', group_id: rowId(stripe.id) });
      expect(sandbox.stripe.requests.filter((r) => r.headers['idempotency-key'] === `switchboard-${row}`)).toHaveLength(1);
    } finally {
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      for (const n of next) await n.stop();
      await g.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('two processes moving the legacy queue at once: one moves its entries, the other finds the queue gone, and neither fails', async () => {
    const g = await startTestGateway();
    const bosses = [0, 1, 2].map(() => new PgBoss({ connectionString: g.databaseUrl, schema: 'pgboss', supervise: false, schedule: false, max: 2 }));
    try {
      await Promise.all(bosses.map((b) => b.start()));
      await bosses[2].createQueue('outbound', { policy: 'key_strict_fifo' });
      await bosses[2].send('outbound', { jobId: '00000000-0000-4000-8000-000000000001' }, { singletonKey: 'legacy:one' });
      // Both see the queue before either has moved it.
      const log = createLogger('silent');
      const moved = await Promise.all([adoptLegacyOutboundQueue(g.gateway.db, bosses[0], log), adoptLegacyOutboundQueue(g.gateway.db, bosses[1], log)]);
      expect(moved.sort()).toEqual([0, 1]);
      expect(await g.sql(`SELECT name FROM pgboss.queue WHERE name = 'outbound'`)).toEqual([]);
      expect(await g.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'provider-calls' AND data->>'jobId' = '00000000-0000-4000-8000-000000000001'`)).toEqual([{ n: 1 }]);
    } finally {
      for (const b of bosses) await b.stop({ graceful: false, close: true }).catch(() => undefined);
      await g.stop();
    }
  });
});
