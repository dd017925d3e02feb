import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateIntegrationDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { spawnGateway, until, type GatewayProcess, stopSpawned } from '../support/processes.js';
import { fixture, newWhsec, post, standardHeaders, stripeHeaders } from '../support/webhooks.js';

/**
 * Durability: a 2xx means the event is committed and will be processed, whatever happens to the
 * processes afterwards. API and worker roles run as the operator would run them.
 */
let t: TestGateway;
const SECRET = newWhsec();
let integrationId = '';
let integrationRow = '';

beforeAll(async () => {
  // This process only receives: no worker runs here.
  t = await startTestGateway({ ROLE: 'api' });
  const { createIntegration } = await t.run(CreateIntegrationDocument, {
    input: { provider: 'GENERIC', name: 'inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
  });
  integrationId = createIntegration.integration.id;
  integrationRow = rowId(integrationId);
});
afterAll(async () => {
  await stopSpawned();
  await t?.stop();
});

const statusCounts = async () =>
  Object.fromEntries(
    (await t.sql<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM webhook_event WHERE integration_id = $1 GROUP BY status', [integrationRow])).map((r) => [
      r.status,
      r.n,
    ]),
  );

describe('webhook durability', () => {
  it('1,000 distinct events posted while no worker runs are all stored; a worker started later processes them all', async () => {
    const url = `${t.url}/webhooks/${integrationRow}`;
    const body = JSON.stringify(fixture('generic', 'invoice.paid'));
    const ids = Array.from({ length: 1000 }, (_, i) => `msg_bulk_${i}`);
    // 50 concurrent senders.
    const queue = [...ids];
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (let id = queue.shift(); id; id = queue.shift()) statuses.push((await post(url, body, standardHeaders(id, body, SECRET))).status);
      }),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1000);
    expect(await statusCounts()).toEqual({ RECEIVED: 1000 });

    const worker = await spawnGateway(t, { ROLE: 'worker', WEBHOOK_CONCURRENCY: '8' });
    try {
      await until(async () => (await statusCounts()).IGNORED === 1000, 120_000, 200);
    } finally {
      await worker.stop();
    }
    expect(await statusCounts()).toEqual({ IGNORED: 1000 });
  });

  it('events posted while the gateway restarts either got a 2xx and were processed, or got no 2xx: never 2xx and lost', async () => {
    const { createIntegration } = await t.run(CreateIntegrationDocument, {
      input: { provider: 'STRIPE', name: 'restarting', baseUrl: 'https://api.stripe.com', credentials: { apiKey: 'sk_test_restart' }, webhookSecret: SECRET },
    });
    const row = rowId(createIntegration.integration.id);
    let gw: GatewayProcess = await spawnGateway(t, { ROLE: 'all' });
    const urlOf = (p: GatewayProcess) => `${/GraphQL: (http:\/\/\S+)\/graphql/.exec(p.output())![1]}/webhooks/${row}`;
    let url = urlOf(gw);
    const acknowledged = new Set<string>();
    let attempted = 0;
    let sending = true;
    const senders = Array.from({ length: 10 }, async (_, sender) => {
      for (let n = 0; sending; n++) {
        const e = fixture('stripe', 'customer.deleted');
        e.id = `evt_restart_${sender}_${n}`;
        e.data.object.id = `cus_restart_${sender}_${n}`;
        const body = JSON.stringify(e);
        attempted++;
        try {
          const res = await post(url, body, stripeHeaders(body, SECRET));
          if (res.status === 200) acknowledged.add(e.id);
        } catch {
          // Connection refused or reset while the gateway is down: no 2xx, the provider retries.
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    try {
      await until(() => acknowledged.size >= 100, 30_000);
      gw.child.kill('SIGTERM');
      await gw.exited;
      const whileDown = attempted;
      gw = await spawnGateway(t, { ROLE: 'all' });
      url = urlOf(gw);
      await until(() => attempted > whileDown + 200 && acknowledged.size > 200, 30_000);
    } finally {
      sending = false;
      await Promise.all(senders);
    }
    try {
      // Every acknowledged event is stored and gets processed (an unlinked customer.deleted is IGNORED).
      await until(async () => {
        const rows = await t.sql<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status = 'IGNORED' AND external_event_id = ANY($2)`, [
          row,
          [...acknowledged],
        ]);
        return rows[0].n === acknowledged.size;
      }, 60_000, 200);
    } finally {
      await gw.stop();
    }
    const stored = await t.sql<{ external_event_id: string }>('SELECT external_event_id FROM webhook_event WHERE integration_id = $1', [row]);
    const storedIds = new Set(stored.map((r) => r.external_event_id));
    expect([...acknowledged].filter((id) => !storedIds.has(id))).toEqual([]);
    expect(acknowledged.size).toBeGreaterThan(200);
  });
});
