/**
 * `npm run console:screenshots`: one PNG per console page (and GraphiQL) into docs/console/, from
 * a gateway seeded by console-world.ts, in Chromium at 1280x800, plus the overview on a phone.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startConsoleWorld } from './console-world.js';

const out = fileURLToPath(new URL('../../docs/console/', import.meta.url));
await mkdir(out, { recursive: true });

const world = await startConsoleWorld();
const shots: string[] = [];
const shoot = async (page: Page, name: string) => {
  // Fixed timestamps change every run; the page is what matters.
  await page.screenshot({ path: `${out}${name}.png`, fullPage: false });
  shots.push(name);
};
try {
  const context = await world.signedIn();
  const page = await context.newPage();
  const go = async (path: string, ready: string) => {
    await page.goto(`${world.url}/console${path}`);
    await page.locator(ready).first().waitFor();
    await page.waitForLoadState('networkidle');
  };

  await go('/', '.cards article');
  await page.locator('.u-over').waitFor();
  await shoot(page, 'overview');
  await go('/jobs', 'tr[data-job-id]');
  await shoot(page, 'jobs');
  const failed = (await world.gql('{ integrationJobs(first: 100, filter: { status: FAILED }) { edges { node { id } } } }')).integrationJobs.edges[0]?.node.id;
  await go(`/jobs/${encodeURIComponent(failed ?? world.jobs[0])}`, '.timeline li');
  await shoot(page, 'job-timeline');
  await go('/logs', 'tbody tr');
  await shoot(page, 'logs');
  await go('/webhooks', 'tbody tr');
  await shoot(page, 'webhook-events');
  await go('/syncs', 'tbody tr');
  await shoot(page, 'sync-runs');
  await go('/integrations', 'article[data-integration-id]');
  await page.getByText('Rotate webhook secret').first().click();
  await shoot(page, 'integrations');
  // The gateway's copy changes; the provider still holds the old name: the dry run shows the difference.
  await world.gql('mutation($id: ID!) { updateCustomer(id: $id, input: { name: "Ada Lovelace & Co" }) { customer { id } } }', { id: world.customers[0] });
  await go('/rehydrate', 'form');
  await page.getByLabel(/^Record id/).fill(world.customers[0]);
  await page.locator('#r-integration').selectOption(world.integrations.stripe);
  await page.getByRole('button', { name: 'Dry run' }).click();
  await page.locator('tbody tr').first().waitFor();
  await shoot(page, 'rehydrate');
  await go('/alerts', 'table[aria-label="Alert rules"] tbody tr');
  await shoot(page, 'alerts');

  await page.goto(`${world.url}/graphiql`);
  await page.locator('.graphiql-execute-button').waitFor();
  await page.getByText('Integrations', { exact: true }).first().waitFor();
  await page.locator('.graphiql-execute-button').click();
  await page.locator('.graphiql-response .monaco-editor .view-line').nth(3).waitFor();
  await shoot(page, 'graphiql');
  await context.close();

  const phone = await world.signedIn({ width: 390, height: 844 });
  const phonePage = await phone.newPage();
  await phonePage.goto(`${world.url}/console/`);
  await phonePage.locator('.cards article').first().waitFor();
  await phonePage.waitForLoadState('networkidle');
  await shoot(phonePage, 'overview-phone');
  await phone.close();

  const anonymous = await world.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const signIn = await anonymous.newPage();
  await signIn.goto(`${world.url}/console/`);
  await signIn.getByLabel('API key').waitFor();
  await shoot(signIn, 'sign-in');
  await anonymous.close();
  console.log(`wrote ${shots.length} screenshots to docs/console/: ${shots.join(', ')}`);
} finally {
  await world.stop();
}
