/**
 * `npm run bench:sync`: sync runs against the zero-latency sandbox (its own process).
 *
 * 1. The floor: a plain pg batch upsert of the same rows (100 a statement, one transaction a
 *    batch, as a run commits a page) into a table shaped like the customer's, in this run.
 * 2. A FULL run of BENCH_RECORDS (default 50,000) Stripe customers, and one of as many HubSpot
 *    contacts: records/s and their ratio to the floor (target: 0.3 or better). HubSpot's search
 *    allows 5 requests a second per account and 200 records a request, so a HubSpot run cannot
 *    go faster than 1,000 records/s whatever the gateway does: the bench prints that ceiling and
 *    the run's share of it beside the ratio.
 * 3. 1 % of the records change at each provider (through their APIs); INCREMENTAL runs then read
 *    only what changed (target: records read = records changed, under 2 s each).
 */
import 'reflect-metadata';
import pg from 'pg';
import { benchDatabase, benchGateway, fmt, graphqlClient, sandboxProcess } from './support.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 50_000);
const CHANGED = Math.max(1, Math.round(RECORDS / 100));
const PAGE = 100;

const db = await benchDatabase();
const sandbox = await sandboxProcess();
// Stripe owns customer emails here (HubSpot owns phones by default): each provider's changes apply.
const { gateway, adminKey } = await benchGateway(db.url, { SHUTDOWN_TIMEOUT_MS: '2000', FIELD_OWNERSHIP: '{"customer.email":"STRIPE"}' });
const sql = new pg.Pool({ connectionString: db.url, max: 2 });
const graphql = graphqlClient(gateway.graphqlUrl, adminKey);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function control(name: 'stripe' | 'hubspot', path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${sandbox.url(name)}/__sandbox/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`sandbox ${path}: HTTP ${res.status}`);
  return res.json();
}

async function integration(provider: 'STRIPE' | 'HUBSPOT'): Promise<string> {
  const data = await graphql(`mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } } }`, {
    input: {
      provider,
      name: `bench ${provider}`,
      baseUrl: sandbox.url(provider === 'STRIPE' ? 'stripe' : 'hubspot'),
      credentials: provider === 'STRIPE' ? { apiKey: 'sk_test_benchsync' } : { accessToken: 'pat-na1-bench-sync' },
      // As fast as the provider lets it: the integration's own limit is not what is measured.
      settings: { requestsPerSecond: 1000 },
    },
  });
  return data.createIntegration.integration.id;
}

interface Run {
  status: string;
  mode: string;
  pages: number;
  recordsSeen: number;
  recordsChanged: number;
  error: string | null;
  seconds: number;
}

/** startSync, then until the run ends (polled every 20 ms); wall-clock seconds from the request. */
async function run(integrationId: string, resource: string, mode: 'FULL' | 'INCREMENTAL'): Promise<Run> {
  const started = performance.now();
  const data = await graphql(`mutation($i: ID!, $r: String!, $m: SyncMode!) { startSync(integrationId: $i, resource: $r, mode: $m) { syncRun { id } } }`, { i: integrationId, r: resource, m: mode });
  const id = data.startSync.syncRun.id;
  for (;;) {
    const { node } = await graphql(`query($id: ID!) { node(id: $id) { ... on SyncRun { status mode pages recordsSeen recordsChanged error } } }`, { id });
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(node.status)) {
      const result = { ...node, seconds: (performance.now() - started) / 1000 } as Run;
      if (result.status !== 'SUCCEEDED') throw new Error(`${resource} run ${result.status}: ${result.error}`);
      return result;
    }
    await sleep(20);
  }
}

/** The floor: the same number of rows upserted 100 a statement, a transaction each, as plainly as pg allows. */
async function floor(): Promise<number> {
  await sql.query(`CREATE TABLE IF NOT EXISTS bench_upsert (external_id text PRIMARY KEY, name text, email text, phone text, updated_at timestamptz NOT NULL DEFAULT now())`);
  await sql.query(`TRUNCATE bench_upsert`);
  const client = await sql.connect();
  const started = performance.now();
  try {
    for (let i = 0; i < RECORDS; i += PAGE) {
      const n = Math.min(PAGE, RECORDS - i);
      const ids = Array.from({ length: n }, (_, k) => `cus_floor${i + k}`);
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO bench_upsert (external_id, name, email, phone)
         SELECT id, 'Floor ' || id, id || '@example.com', NULL FROM unnest($1::text[]) AS u(id)
         ON CONFLICT (external_id) DO UPDATE SET name = excluded.name, email = excluded.email, phone = excluded.phone, updated_at = now()`,
        [ids],
      );
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
  return RECORDS / ((performance.now() - started) / 1000);
}

try {
  console.log(`bench:sync: ${RECORDS.toLocaleString('en')} records a provider, ${CHANGED.toLocaleString('en')} changed for the incremental runs\n`);
  const floorRate = await floor();
  console.log(`floor: pg batch upsert (100 a statement, a transaction each)   ${fmt(floorRate, 0)} records/s`);

  await control('stripe', 'seed', { customers: RECORDS });
  await control('hubspot', 'seed', { contacts: RECORDS });
  const stripe = await integration('STRIPE');
  const hubspot = await integration('HUBSPOT');

  const sFull = await run(stripe, 'customers', 'FULL');
  const sRate = sFull.recordsSeen / sFull.seconds;
  console.log(
    `Stripe FULL:   ${sFull.recordsSeen} customers, ${sFull.pages} pages in ${fmt(sFull.seconds, 2)} s = ${fmt(sRate, 0)} records/s; ratio to the floor ${fmt(sRate / floorRate, 2)} (target >= 0.30)`,
  );
  const hFull = await run(hubspot, 'contacts', 'FULL');
  const hRate = hFull.recordsSeen / hFull.seconds;
  const ceiling = 5 * 200;
  console.log(
    `HubSpot FULL:  ${hFull.recordsSeen} contacts, ${hFull.pages} pages in ${fmt(hFull.seconds, 2)} s = ${fmt(hRate, 0)} records/s; ratio to the floor ${fmt(hRate / floorRate, 2)}; ` +
      `HubSpot's search limit (5 requests/s x 200) caps any client at ${ceiling} records/s: ${fmt((100 * hRate) / ceiling, 0)} % of that ceiling`,
  );

  // 1 % changes, through the providers' APIs.
  const stripeIds: string[] = [];
  for (let after: string | null = null; stripeIds.length < CHANGED; ) {
    const res = await fetch(`${sandbox.url('stripe')}/v1/customers?limit=100${after ? `&starting_after=${after}` : ''}`, { headers: { authorization: 'Bearer sk_test_benchsync' } });
    const page = (await res.json()) as { data: Array<{ id: string }>; has_more: boolean };
    stripeIds.push(...page.data.map((c) => c.id));
    after = page.data.at(-1)?.id ?? null;
    if (!page.has_more) break;
  }
  for (const id of stripeIds.slice(0, CHANGED)) {
    const res = await fetch(`${sandbox.url('stripe')}/v1/customers/${id}`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_benchsync', 'content-type': 'application/x-www-form-urlencoded' },
      body: `email=${encodeURIComponent(`changed-${id.toLowerCase()}@example.com`)}`,
    });
    if (!res.ok) throw new Error(`Stripe update: HTTP ${res.status}`);
  }
  const state = (await (await fetch(`${sandbox.url('hubspot')}/__sandbox/state`)).json()) as { contacts: Record<string, { properties: { email: string } }> };
  const emails = Object.values(state.contacts).slice(0, CHANGED).map((c) => c.properties.email);
  for (let i = 0; i < emails.length; i += 100) {
    const res = await fetch(`${sandbox.url('hubspot')}/crm/v3/objects/contacts/batch/upsert`, {
      method: 'POST',
      headers: { authorization: 'Bearer pat-na1-bench-sync', 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: emails.slice(i, i + 100).map((email) => ({ id: email, idProperty: 'email', properties: { phone: '+4930' + i } })) }),
    });
    if (!res.ok) throw new Error(`HubSpot update: HTTP ${res.status}`);
  }

  const sInc = await run(stripe, 'customers', 'INCREMENTAL');
  console.log(`Stripe INCREMENTAL after ${CHANGED} changes: read ${sInc.recordsSeen}, changed ${sInc.recordsChanged}, ${sInc.pages} pages in ${fmt(sInc.seconds, 2)} s (target: reads ${CHANGED}, < 2 s)`);
  const hInc = await run(hubspot, 'contacts', 'INCREMENTAL');
  console.log(`HubSpot INCREMENTAL after ${CHANGED} changes: read ${hInc.recordsSeen}, changed ${hInc.recordsChanged}, ${hInc.pages} pages in ${fmt(hInc.seconds, 2)} s (target: reads ${CHANGED}, < 2 s)`);
} finally {
  await sql.end();
  await gateway.stop();
  await sandbox.stop();
  await db.close();
}
