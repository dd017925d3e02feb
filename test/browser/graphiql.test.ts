import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateCustomerDocument, CreateIntegrationDocument, PushCustomerDocument } from '../generated/graphql.js';
import { startBrowserWorld, type BrowserWorld } from './support.js';

let world: BrowserWorld;
beforeAll(async () => {
  world = await startBrowserWorld();
});
afterAll(async () => {
  await world?.stop();
});

describe('GraphiQL in Chromium', () => {
  it('opening /graphql in a browser leads to the bundled GraphiQL, which runs a query and a subscription over graphql-ws, all on the gateway origin', async () => {
    const { page, foreign, errors } = await world.session();
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${world.t.url}/graphql`);
    expect(new URL(page.url()).pathname).toBe('/graphiql');
    await page.getByLabel('API key').fill(world.t.adminKey);
    await page.getByRole('button', { name: 'Open GraphiQL' }).click();

    // The default query lists integrations.
    const { createIntegration } = await world.t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'GraphiQL Stripe', baseUrl: world.sandbox.stripe.url, credentials: { apiKey: 'sk_test_graphiql_0123456789abcdefghij' } },
    });
    const run = page.locator('.graphiql-execute-button');
    await run.waitFor();
    const responseBox = page.locator('.graphiql-response');
    // Monaco renders spaces as no-break spaces.
    const response = { textContent: async () => ((await responseBox.textContent()) ?? '').replace(/\u00a0/g, ' ') };
    await page.getByText('Integrations', { exact: true }).first().waitFor();
    // The editor may still be starting on a busy machine: run again until an answer shows.
    await expect
      .poll(
        async () => {
          const text = await response.textContent();
          if (!text.trim()) await run.click();
          return text;
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toContain('GraphiQL Stripe');

    // A subscription typed into a new tab's editor, then a job made through the API arrives in it.
    await page.getByRole('button', { name: 'New tab' }).click();
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type('subscription { integrationJobUpdated { id status operation } }');
    await page.keyboard.press('Escape');
    await run.click();
    await expect.poll(() => sockets.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const customerId = (await world.t.run(CreateCustomerDocument, { input: { name: 'GraphiQL Customer' } })).createCustomer.customer.id;
    // The subscription may take a moment to register: push until an event shows.
    await expect
      .poll(
        async () => {
          await world.t.run(PushCustomerDocument, { customerId, integrationId: createIntegration.integration.id });
          return response.textContent();
        },
        { timeout: 20_000, interval: 1000 },
      )
      .toContain('customer.upsert');
    expect(await response.textContent()).toContain('integrationJobUpdated');

    expect(sockets.every((u) => u.startsWith(world.t.url.replace(/^http/, 'ws')))).toBe(true);
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    // The key stays in the session: nothing in localStorage carries it.
    expect(await page.evaluate('JSON.stringify(localStorage)')).not.toContain(world.t.adminKey);
  });
});
