/**
 * A gateway with something to show, for the console's benchmark and screenshots: an embedded
 * PostgreSQL (or DATABASE_URL's server), the sandbox's fakes in this process, three
 * integrations, customers pushed (some failing), a webhook event, a sync run, an alert rule.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox.js';
import { benchDatabase, benchGateway, graphqlClient } from './support.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ConsoleWorld {
  url: string;
  adminKey: string;
  sandbox: Sandbox;
  gql: ReturnType<typeof graphqlClient>;
  integrations: { stripe: string; hubspot: string; flaky: string };
  customers: string[];
  jobs: string[];
  browser: Browser;
  /** A fresh browser session already holding the admin key (as after signing in). */
  signedIn(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  stop(): Promise<void>;
}

const STRIPE_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

export async function startConsoleWorld(options: { seed?: boolean } = {}): Promise<ConsoleWorld> {
  const db = await benchDatabase();
  const sandbox = await startSandbox();
  const { gateway, adminKey } = await benchGateway(db.url, { CIRCUIT_COOLDOWN_MS: '2000', ALERT_EVAL_INTERVAL_MS: '1000' });
  const gql = graphqlClient(gateway.graphqlUrl, adminKey);
  const must = gql;
  const create = async (provider: string, name: string, baseUrl: string, credentials: Record<string, string>, extra: Record<string, unknown> = {}) =>
    (await must('mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }', { input: { provider, name, baseUrl, credentials, ...extra } })).createIntegration.integration.id as string;

  const flakyKey = 'sk_test_flaky_0123456789abcdefghijkl';
  const integrations = {
    stripe: await create('STRIPE', 'Stripe (billing)', sandbox.stripe.url, { apiKey: 'sk_test_console_0123456789abcdefghij' }, { webhookSecret: STRIPE_SECRET }),
    hubspot: await create('HUBSPOT', 'HubSpot (CRM)', sandbox.hubspot.url, { accessToken: 'pat-na1-console-0123456789abcdef' }),
    flaky: await create('STRIPE', 'Stripe (EU account)', sandbox.stripe.url, { apiKey: flakyKey }, { settings: { maxAttempts: 2, retryBaseDelayMs: 50, retryMaxDelayMs: 100 } }),
  };
  const customers: string[] = [];
  const jobs: string[] = [];
  if (options.seed !== false) {
    const names = ['Ada Lovelace Ltd', 'Grace Hopper GmbH', 'Katherine Johnson SA', 'Alan Turing plc', 'Edsger Dijkstra BV', 'Barbara Liskov Inc'];
    for (const name of names) {
      const email = `${name.split(' ')[0].toLowerCase()}@example.com`;
      customers.push((await must('mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { customer { id } } }', { input: { name, email } })).createCustomer.customer.id);
    }
    sandbox.stripe.setFaults({ byCredential: { [flakyKey]: { errorRate: 1 } } });
    await must('mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) { alertRule { id } } }', {
      input: { name: 'EU account failing', kind: 'FAILURE_RATE', integrationId: integrations.flaky, threshold: 0.5, windowSeconds: 900, minAttempts: 2 },
    });
    await must('mutation($input: CreateAlertRuleInput!) { createAlertRule(input: $input) { alertRule { id } } }', {
      input: { name: 'Queue lag over a minute', kind: 'QUEUE_LAG', threshold: 60, windowSeconds: 300 },
    });
    const push = 'mutation($c: ID!, $i: ID!) { pushCustomer(customerId: $c, integrationId: $i) { job { id } } }';
    for (const c of customers) {
      jobs.push((await must(push, { c, i: integrations.stripe })).pushCustomer.job.id);
      jobs.push((await must(push, { c, i: integrations.hubspot })).pushCustomer.job.id);
    }
    for (const c of customers.slice(0, 3)) jobs.push((await must(push, { c, i: integrations.flaky })).pushCustomer.job.id);
    await must('mutation($i: ID!) { startSync(integrationId: $i, resource: "customers", mode: FULL) { syncRun { id } } }', { i: integrations.stripe });
    // A provider event, signed as Stripe signs.
    const body = JSON.stringify({
      id: `evt_${randomBytes(8).toString('hex')}`,
      object: 'event',
      type: 'customer.updated',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: `cus_${randomBytes(6).toString('hex')}`, object: 'customer', name: 'Someone Unlinked', email: 'unlinked@example.com' } },
    });
    const t = Math.floor(Date.now() / 1000);
    const v1 = createHmac('sha256', STRIPE_SECRET).update(`${t}.${body}`).digest('hex');
    const { webhookUrl } = (await must('query($id: ID!) { integration(id: $id) { webhookUrl } }', { id: integrations.stripe })).integration;
    const hook = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${v1}` }, body });
    if (!hook.ok) throw new Error(`the webhook was answered ${hook.status}: ${await hook.text()}`);
    // Let the queue drain: every job completed or failed.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { integrationJobs } = await must('{ integrationJobs(first: 100) { edges { node { status } } } }');
      const open = integrationJobs.edges.filter((e: { node: { status: string } }) => !['COMPLETED', 'FAILED', 'CANCELLED'].includes(e.node.status));
      if (!open.length || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: root ? ['--no-sandbox'] : [] });
  return {
    url: gateway.url,
    adminKey,
    sandbox,
    gql,
    integrations,
    customers,
    jobs,
    browser,
    async signedIn(viewport = { width: 1280, height: 800 }) {
      const context = await browser.newContext({ viewport });
      await context.addInitScript(`sessionStorage.setItem('switchboard.apiKey', ${JSON.stringify(adminKey)})`);
      return context;
    },
    async stop() {
      await browser.close();
      await gateway.stop();
      await sandbox.stop();
      await db.close();
    },
  };
}
