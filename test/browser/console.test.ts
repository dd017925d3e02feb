import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateApiKeyDocument, RevokeApiKeyDocument, CreateCustomerDocument, CreateIntegrationDocument, PushCustomerDocument } from '../generated/graphql.js';
import { waitForJobs } from '../support/outbound.js';
import { newWhsec, stripeHeaders } from '../support/webhooks.js';
import { startBrowserWorld, type BrowserWorld, type WatchedPage } from './support.js';

let world: BrowserWorld;
const watched: WatchedPage[] = [];

beforeAll(async () => {
  // Alerts evaluated twice a second; a circuit opens after 5 failures and stays open 2 s per round.
  world = await startBrowserWorld({ CIRCUIT_COOLDOWN_MS: '2000', CIRCUIT_FAILURE_THRESHOLD: '5', ALERT_EVAL_INTERVAL_MS: '500' });
});
afterAll(async () => {
  await world?.stop();
});
// Every page of every test: nothing but the gateway's own origin, and a clean console.
afterEach(() => {
  const pages = watched.splice(0);
  expect(pages.flatMap((p) => p.foreign)).toEqual([]);
  expect(pages.flatMap((p) => p.errors)).toEqual([]);
});

async function session(): Promise<WatchedPage> {
  const s = await world.session();
  watched.push(s);
  return s;
}

let seq = 0;
/** A Stripe integration on the sandbox with a key of its own, so its faults touch nothing else. */
async function stripe(settings: Record<string, unknown> = {}) {
  const key = `sk_test_console${++seq}_0123456789abcdefghij`;
  const { createIntegration } = await world.t.run(CreateIntegrationDocument, {
    input: { provider: 'STRIPE', name: `Stripe console ${seq}`, baseUrl: world.sandbox.stripe.url, credentials: { apiKey: key }, settings },
  });
  return { id: createIntegration.integration.id, key, name: createIntegration.integration.name };
}

async function customer(name: string) {
  return (await world.t.run(CreateCustomerDocument, { input: { name, email: `${name.toLowerCase().replace(/\W+/g, '.')}@example.com` } })).createCustomer.customer.id;
}

describe('operator console in Chromium', () => {
  it('signs in with an admin key; the key is kept in sessionStorage only, never in localStorage or the address', async () => {
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    // A string: the test's tsconfig has no DOM types.
    const storage = (await page.evaluate('({ session: sessionStorage.length, local: JSON.stringify(localStorage), url: location.href })')) as { session: number; local: string; url: string };
    expect(storage.session).toBe(1);
    expect(storage.local).not.toContain(world.t.adminKey);
    expect(storage.url).not.toContain(world.t.adminKey);
  });

  it('a pushCustomer made through the API appears in Jobs and turns COMPLETED live, without a reload', async () => {
    const integration = await stripe();
    // Slow enough that the page sees the job before it completes.
    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { latencyMs: 1500 } } });
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    await page.evaluate('window.notReloaded = true');

    const { pushCustomer } = await world.t.run(PushCustomerDocument, { customerId: await customer('Live Jobs Ltd'), integrationId: integration.id });
    const row = page.locator(`tr[data-job-id="${pushCustomer.job.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.badge').textContent()).not.toBe('COMPLETED');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 15_000 }).toBe('COMPLETED');
    expect(await page.evaluate('window.notReloaded')).toBe(true);
  });

  it('a FAILED job is retried from its timeline and completes', async () => {
    const integration = await stripe({ maxAttempts: 1, retryBaseDelayMs: 10, retryMaxDelayMs: 20 });
    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { errorRate: 1 } } });
    const { job } = (await world.t.run(PushCustomerDocument, { customerId: await customer('Retry Me Ltd'), integrationId: integration.id })).pushCustomer;
    await waitForJobs(world.t, [job.id], ['FAILED']);
    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { errorRate: 0 } } });

    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.goto(`${world.t.url}/console/jobs/${encodeURIComponent(job.id)}`);
    const status = page.locator('.facts dd').first();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('FAILED');
    // The timeline shows the failed attempt with its HTTP status.
    const timeline = await page.getByRole('list', { name: 'Attempts' }).textContent();
    expect(timeline).toContain('attempt 1');
    expect(timeline).toMatch(/HTTP 50[03]/);
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => status.textContent(), { timeout: 15_000 }).toBe('COMPLETED');
  });

  it("a paused integration's jobs wait, and Resume on the Integrations page releases them", async () => {
    const integration = await stripe();
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('link', { name: 'Integrations' }).click();
    const card = page.locator(`article[data-integration-id="${integration.id}"]`);
    await card.getByRole('button', { name: 'Pause' }).click();
    await card.getByRole('button', { name: 'Resume' }).waitFor();

    const { job } = (await world.t.run(PushCustomerDocument, { customerId: await customer('Paused Co'), integrationId: integration.id })).pushCustomer;
    // A negative: nothing to wait on but time. Workers poll far faster than this.
    await new Promise((r) => setTimeout(r, 1500));
    const [{ status }] = await world.t.sql<{ status: string }>('SELECT status FROM integration_job WHERE correlation_id = $1', [job.correlationId]);
    expect(status).toBe('PENDING');
    expect(world.sandbox.stripe.requests.filter((r) => r.headers.authorization === `Bearer ${integration.key}`)).toHaveLength(0);

    await card.getByRole('button', { name: 'Resume' }).click();
    await card.getByRole('button', { name: 'Pause' }).waitFor();
    await waitForJobs(world.t, [job.id], ['COMPLETED'], 15_000);
  });

  it('a sandbox outage opens the circuit: the overview shows it, and an alert made on the Alerts page fires live, then resolves after recovery', async () => {
    const integration = await stripe({ timeoutMs: 500, retryBaseDelayMs: 20, retryMaxDelayMs: 100, maxAttempts: 50, requestsPerSecond: 1000 });
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);

    await page.getByRole('link', { name: 'Alerts' }).click();
    await page.getByText('New rule').click();
    await page.getByLabel('Name').fill('console circuit');
    await page.getByLabel('Kind').selectOption('CIRCUIT_OPEN');
    await page.locator('#a-integration').selectOption({ label: `${integration.name} (STRIPE)` });
    await page.getByLabel(/^Threshold/).fill('1');
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.getByRole('table', { name: 'Alert rules' }).getByRole('cell', { name: 'console circuit' }).waitFor();

    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { outage: true } } });
    const jobIds: string[] = [];
    for (let i = 0; i < 8; i++) jobIds.push((await world.t.run(PushCustomerDocument, { customerId: await customer(`Outage ${i}`), integrationId: integration.id })).pushCustomer.job.id);

    // Live on the Alerts page: the alert arrives through alertUpdated, no reload.
    const alertRow = page.getByRole('table', { name: 'Alerts' }).locator('tr', { hasText: 'console circuit' });
    await expect.poll(() => alertRow.first().locator('.badge').textContent().catch(() => null), { timeout: 30_000 }).toBe('FIRING');

    await page.getByRole('link', { name: 'Overview' }).click();
    const circuit = page.locator(`article[data-integration-id="${integration.id}"] .circuit`);
    await expect.poll(() => circuit.getAttribute('data-circuit', { timeout: 1000 }).catch(() => null), { timeout: 15_000 }).toMatch(/^(OPEN|HALF_OPEN)$/);

    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { outage: false } } });
    await waitForJobs(world.t, jobIds, ['COMPLETED'], 60_000);
    await expect.poll(() => circuit.getAttribute('data-circuit'), { timeout: 15_000 }).toBe('CLOSED');
    await page.getByRole('link', { name: 'Alerts' }).click();
    await expect.poll(() => alertRow.first().locator('.badge').textContent().catch(() => null), { timeout: 30_000 }).toBe('RESOLVED');
  });

  it('Logs tail a new call live; its row leads to its job; the Jobs page replays all failed jobs of an integration after a confirmation', async () => {
    const integration = await stripe({ maxAttempts: 1 });
    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { errorRate: 1 } } });
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    const { job } = (await world.t.run(PushCustomerDocument, { customerId: await customer('Tail Ltd'), integrationId: integration.id })).pushCustomer;
    const row = page.locator('tbody tr', { hasText: job.correlationId });
    await row.first().waitFor({ timeout: 15_000 });
    await waitForJobs(world.t, [job.id], ['FAILED']);
    await row.first().getByRole('link', { name: 'job' }).click();
    await expect.poll(() => page.locator('.facts dd').first().textContent(), { timeout: 10_000 }).toBe('FAILED');

    world.sandbox.stripe.setFaults({ byCredential: { [integration.key]: { errorRate: 0 } } });
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.locator('#f-integration').selectOption(integration.id);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('button', { name: 'Replay all failed…' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: '1 failed jobs replayed' }).waitFor();
    await waitForJobs(world.t, [job.id], ['COMPLETED'], 15_000);
  });

  it('a sync run started on the Sync runs page shows its progress live until it succeeds; Rehydrate shows the dry-run diff', async () => {
    const integration = await stripe();
    const customerId = await customer('Rehydrate Me Ltd');
    const { job } = (await world.t.run(PushCustomerDocument, { customerId, integrationId: integration.id })).pushCustomer;
    await waitForJobs(world.t, [job.id], ['COMPLETED']);
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);

    await page.getByRole('link', { name: 'Sync runs' }).click();
    await page.locator('#s-integration').selectOption(integration.id);
    await page.getByLabel('Resource').selectOption('customers');
    await page.getByLabel('Mode').selectOption('FULL');
    await page.getByRole('button', { name: 'Start sync' }).click();
    const run = page.locator('tbody tr', { hasText: integration.name }).first();
    await expect.poll(() => run.locator('.badge').textContent().catch(() => null), { timeout: 30_000 }).toBe('SUCCEEDED');
    expect(Number(await run.locator('td').nth(6).textContent())).toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Rehydrate' }).click();
    await page.getByLabel(/^Record id/).fill(customerId);
    await page.locator('#r-integration').selectOption(integration.id);
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByRole('heading', { name: 'What would change' }).waitFor();
    const nameRow = page.locator('tbody tr', { hasText: 'customer.name' });
    expect(await nameRow.locator('td').nth(1).textContent()).toBe('Rehydrate Me Ltd');
    expect(await nameRow.locator('td').nth(2).textContent()).toBe('Rehydrate Me Ltd');
  });

  it('Webhook events lists a received provider event by integration and status and replays it after a confirmation; its log row leads back to it', async () => {
    const secret = newWhsec();
    const key = `sk_test_hooks_0123456789abcdefghij`;
    const { createIntegration } = await world.t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'Stripe hooks', baseUrl: world.sandbox.stripe.url, credentials: { apiKey: key }, webhookSecret: secret },
    });
    const { id, webhookUrl } = createIntegration.integration;
    const eventId = `evt_console_${Date.now()}`;
    const body = JSON.stringify({
      id: eventId,
      object: 'event',
      type: 'customer.updated',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'cus_console_unlinked', object: 'customer', name: 'Nobody Here', email: 'nobody@example.com' } },
    });
    const posted = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...stripeHeaders(body, secret) }, body });
    expect(posted.status).toBe(200);
    const stored = async () => (await world.t.sql<{ status: string; attempts: number }>('SELECT status, attempts FROM webhook_event WHERE external_event_id = $1', [eventId]))[0];
    await expect.poll(async () => (await stored())?.status, { timeout: 15_000 }).toMatch(/^(PROCESSED|IGNORED)$/);
    const before = await stored();

    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('link', { name: 'Webhook events' }).click();
    await page.locator('#w-integration').selectOption(id);
    await page.getByLabel('Status').selectOption(before.status);
    await page.getByRole('button', { name: 'Filter' }).click();
    const row = page.locator('tbody tr', { hasText: eventId });
    await row.waitFor();
    expect(await row.locator('.badge').textContent()).toBe(before.status);
    await row.getByRole('button', { name: 'Replay…' }).click();
    await row.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(async () => (await stored()).attempts, { timeout: 15_000 }).toBeGreaterThan(before.attempts);

    // From its log rows back to the event.
    const [{ correlation_id: correlationId }] = await world.t.sql<{ correlation_id: string }>('SELECT correlation_id FROM webhook_event WHERE external_event_id = $1', [eventId]);
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByLabel('Correlation id').fill(correlationId);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'webhook event' }).first().click();
    await page.locator('tbody tr', { hasText: eventId }).waitFor();
    expect(await page.locator('tbody tr').count()).toBe(1);
  });

  it('Integrations creates an integration from the form (credentials write-only) and rotates its webhook secret with a grace period', async () => {
    const { page, signIn } = await session();
    await signIn(world.t.adminKey);
    await page.getByRole('link', { name: 'Integrations' }).click();
    await page.getByText('New integration').click();
    const form = page.getByRole('form', { name: 'New integration' });
    await form.getByLabel('Provider').selectOption('STRIPE');
    await form.getByLabel('Name', { exact: true }).fill('Made in the console');
    await form.getByLabel('Base URL').fill(world.sandbox.stripe.url);
    await form.getByLabel(/^Credentials/).fill(JSON.stringify({ apiKey: 'sk_test_console_form_0123456789abcdef' }));
    await form.getByLabel(/^Webhook secret/).fill(newWhsec());
    await form.getByLabel(/^Settings/).fill('{"maxAttempts": 3}');
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    const card = page.locator('article', { has: page.getByRole('heading', { name: 'Made in the console' }) });
    await card.waitFor();
    expect(await card.textContent()).toContain('stored');
    expect(await card.textContent()).not.toContain('sk_test_console_form');

    await card.getByText('Rotate webhook secret').click();
    await card.getByLabel('New secret').fill(newWhsec());
    await card.getByLabel(/^Grace/).fill('600');
    await card.getByRole('button', { name: 'Rotate' }).click();
    await card.getByRole('status').filter({ hasText: 'keeps verifying for 600 s' }).waitFor();
    const [row] = await world.t.sql<{ grace: number; previous: boolean }>(
      "SELECT extract(epoch FROM previous_secret_expires_at - now())::float AS grace, previous_webhook_secret_encrypted IS NOT NULL AS previous FROM integration WHERE name = 'Made in the console'",
    );
    expect(row.previous).toBe(true);
    expect(row.grace).toBeGreaterThan(500);
    expect(row.grace).toBeLessThanOrEqual(600);
  });

  it('is usable by keyboard, and the overview does not shift when its data arrives', async () => {
    const { page } = await session();
    await page.goto(`${world.t.url}/console/`);
    // The key field has focus once the page has rendered; Enter signs in.
    await expect.poll(() => page.evaluate('document.activeElement && document.activeElement.id'), { timeout: 10_000 }).toBe('api-key');
    await page.keyboard.type(world.t.adminKey);
    await page.keyboard.press('Enter');
    await page.locator('.cards article').first().waitFor();
    const shift = (await page.evaluate(`new Promise((resolve) => {
      let total = 0;
      new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value; })
        .observe({ type: 'layout-shift', buffered: true });
      setTimeout(() => resolve(total), 300);
    })`)) as number;
    expect(shift).toBeLessThan(0.05);
    // Tab order: the skip link first, then the navigation; Enter follows a link.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Jobs');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
  });

  it('an OPERATOR key signs in and stays signed in across a reload; once revoked, the page returns to sign-in and says why', async () => {
    const { createApiKey } = await world.t.run(CreateApiKeyDocument, { input: { name: 'console operator', role: 'OPERATOR' } });
    const watchedPage = await session();
    const { page, signIn } = watchedPage;
    await signIn(createApiKey.key);
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.reload();
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();

    await world.t.run(RevokeApiKeyDocument, { id: createApiKey.apiKey.id });
    await page.reload();
    await page.getByText('That key is unknown, revoked or expired.').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    // Chromium logs the refused check (HTTP 401) as a console error: expected here, and only that.
    expect(watchedPage.errors.every((e) => e.includes('status of 401'))).toBe(true);
    watchedPage.errors.length = 0;
  });

  for (const role of ['APP', 'PARTNER'] as const) {
    it(`a ${role} key sees no operator page and receives no operator data`, async () => {
      const { createApiKey } = await world.t.run(CreateApiKeyDocument, { input: { name: `console ${role}`, role, customerIds: role === 'PARTNER' ? [] : undefined } });
      const watchedPage = await session();
      const { page } = watchedPage;
      const answers: string[] = [];
      page.on('response', async (res) => {
        if (res.url().endsWith('/graphql')) answers.push(await res.text());
      });
      await page.goto(`${world.t.url}/console/jobs`);
      await page.getByLabel('API key').fill(createApiKey.key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'No operator access' }).waitFor();
      expect(await page.getByRole('navigation', { name: 'Console' }).count()).toBe(0);
      expect(await page.getByRole('heading', { name: 'Jobs' }).count()).toBe(0);
      expect(answers.length).toBeGreaterThan(0);
      for (const body of answers) {
        const parsed = JSON.parse(body) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
        expect(parsed.data ?? null).toBeNull();
        expect(parsed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
      // Chromium logs the refused probe (HTTP 403) as a console error: that one, and nothing else, is expected here.
      expect(watchedPage.errors.every((e) => e.includes('status of 403'))).toBe(true);
      watchedPage.errors.length = 0;
    });
  }
});
