import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeForm } from '../../src/providers/stripe/form.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { CreateIntegrationDocument, StartSyncDocument, SyncRunNodeDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { spawnGateway, stopSpawned, until } from '../support/processes.js';

/**
 * Sync runs are carried out by worker processes; here the API gateway runs in the test and the
 * workers are spawned, so one can be killed with SIGKILL in the middle of a run.
 */
let t: TestGateway;
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox();
  t = await startTestGateway({ ROLE: 'api' });
});
afterAll(async () => {
  await stopSpawned();
  await t?.stop();
  await sandbox?.stop();
});

it('a worker SIGKILLed in the middle of a FULL run: another resumes after its last committed page; every record once, no page before it fetched again', async () => {
  const credential = 'sk_test_crash1';
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'STRIPE', name: 'crash', baseUrl: sandbox.stripe.url, credentials: { apiKey: credential }, settings: { requestsPerSecond: 200 } },
  });
  const integrationId = createIntegration.integration.id;
  sandbox.stripe.handler.seedCustomers(3000, (i) => ({ name: `Crash ${i}`, email: `crash-${i}@example.com` }));
  // Slow enough that the kill lands in the middle of the run.
  sandbox.stripe.setFaults({ latencyMs: 60 });
  const workerEnv = { ROLE: 'worker', QUEUE_MONITOR_INTERVAL_SECONDS: '1', QUEUE_HEARTBEAT_SECONDS: '10' };
  const first = await spawnGateway(t, workerEnv);
  const { startSync } = await t.run(StartSyncDocument, { integrationId, resource: 'customers', mode: 'FULL' });
  const runId = rowId(startSync.syncRun.id);

  await until(async () => (await t.sql<{ pages: number }>(`SELECT pages FROM sync_run WHERE id = $1`, [runId]))[0].pages >= 8, 60_000, 10);
  first.child.kill('SIGKILL');
  await first.exited;
  // What the dead worker had committed: the run resumes from this cursor.
  const [atKill] = await t.sql<{ status: string; pages: number; cursor: { startingAfter: string } }>(`SELECT status, pages, cursor FROM sync_run WHERE id = $1`, [runId]);
  expect(atKill.status).toBe('RUNNING');
  expect(atKill.pages).toBeLessThan(30);

  const second = await spawnGateway(t, workerEnv);
  try {
    const run = await until(
      async () => {
        const { node } = await t.run(SyncRunNodeDocument, { id: startSync.syncRun.id });
        return node?.__typename === 'SyncRun' && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(node.status) ? node : null;
      },
      90_000,
      100,
    );
    expect(run).toMatchObject({ status: 'SUCCEEDED', pages: 30, recordsSeen: 3000, recordsChanged: 3000 });
  } finally {
    await second.stop();
  }

  // Every record once: 3,000 links to 3,000 customers, no duplicate customer.
  const [counts] = await t.sql<{ links: number; customers: number; named: number }>(
    `SELECT count(*)::int AS links, count(DISTINCT entity_id)::int AS customers,
            (SELECT count(*)::int FROM customer WHERE name LIKE 'Crash %') AS named
       FROM external_ref WHERE integration_id = $1 AND entity_type = 'Customer'`,
    [rowId(integrationId)],
  );
  expect(counts).toEqual({ links: 3000, customers: 3000, named: 3000 });

  // Pages by the cursor they were asked with, in the order first asked: those before the page the
  // dead worker had not committed were asked once; only pages from there on may have been asked
  // twice (read, or read ahead, and not committed).
  const cursors = sandbox.stripe.requests
    .filter((r) => r.headers.authorization === `Bearer ${credential}` && r.path.startsWith('/v1/customers') && r.status === 200)
    .map((r) => String(decodeForm(r.path.split('?')[1] ?? '').starting_after ?? 'first'));
  const order = [...new Set(cursors)];
  expect(order).toHaveLength(30);
  const resumedAt = order.indexOf(atKill.cursor.startingAfter);
  expect(resumedAt).toBe(atKill.pages);
  const asked = (c: string) => cursors.filter((x) => x === c).length;
  expect(order.slice(0, resumedAt).every((c) => asked(c) === 1)).toBe(true);
  expect(order.slice(resumedAt).every((c) => asked(c) <= 2)).toBe(true);
  expect(cursors.length - order.length).toBeLessThanOrEqual(2);
}, 180_000);
