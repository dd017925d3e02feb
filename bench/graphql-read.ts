/**
 * `npm run bench:graphql`: a page of 50 invoices with customer and line items, 50 concurrent
 * clients for 10 s, through the gateway and through a minimal hand-written server over the
 * same rows; prints both and the ratio. Target: ratio >= 0.8, gateway p99 < 150 ms.
 */
import 'reflect-metadata';
import pg from 'pg';
import { startBaselineServer } from './baseline-server.js';
import { benchDatabase, benchGateway, fmt, runLoad, type LoadResult } from './support.js';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const QUERY = `query InvoicePage {
  invoices(first: 50) {
    edges { cursor node { id number status total customer { id name email } lineItems { description quantity unitAmount amount } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const db = await benchDatabase();
const { gateway, adminKey } = await benchGateway(db.url, { ROLE: 'api' });

console.log(`seeding ${CUSTOMERS} customers, each with an invoice of three line items ...`);
const client = new pg.Client({ connectionString: db.url });
await client.connect();
await client.query(`
  WITH c AS (
    INSERT INTO customer (id, name, email)
    SELECT gen_random_uuid(), 'Customer ' || i, 'customer' || i || '@example.com' FROM generate_series(1, $1) i
    RETURNING id
  ), inv AS (
    INSERT INTO invoice (id, number, customer_id, currency, subtotal_minor, status)
    SELECT gen_random_uuid(), 'INV-' || row_number() OVER (), c.id, 'USD', 4500, 'OPEN' FROM c
    RETURNING id
  )
  INSERT INTO invoice_line_item (id, invoice_id, position, description, quantity, unit_amount_minor, amount_minor)
  SELECT gen_random_uuid(), inv.id, p, 'Line ' || p, 3, 500, 1500 FROM inv, generate_series(0, 2) p`, [CUSTOMERS]);
await client.query('ANALYZE');
await client.end();

const baseline = await startBaselineServer(db.url);
const body = JSON.stringify({ query: QUERY, operationName: 'InvoicePage' });
const headers = { 'content-type': 'application/json' };

// Same answer from both, checked before timing anything.
const check = async (url: string, extra: Record<string, string>) => {
  const res = await fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body });
  const json = (await res.json()) as { data?: { invoices: { edges: { node: { number: string; total: string; lineItems: unknown[] } }[] } } };
  const edges = json.data?.invoices.edges ?? [];
  if (edges.length !== 50 || edges.some((e) => e.node.lineItems.length !== 3)) throw new Error(`unexpected answer from ${url}: ${JSON.stringify(json).slice(0, 300)}`);
  return edges.map((e) => `${e.node.number}:${e.node.total}`).join(',');
};
const auth = { authorization: `Bearer ${adminKey}` };
if ((await check(gateway.graphqlUrl, auth)) !== (await check(baseline.url, {}))) throw new Error('the two servers answer differently');

const measure = async (label: string, url: string, extra: Record<string, string>): Promise<LoadResult> => {
  const r = await runLoad({ url, body, headers: { ...headers, ...extra }, connections: CONNECTIONS, seconds: SECONDS });
  console.log(
    `${label.padEnd(22)} ${fmt(r.requestsPerSecond).padStart(8)} req/s   p50 ${fmt(r.p50, 0).padStart(4)} ms   p99 ${fmt(r.p99, 0).padStart(4)} ms   ` +
      `(${r.total} requests, ${r.errors} errors, ${r.non2xx} non-2xx)`,
  );
  return r;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Runs on this machine vary by +-15%: both servers are measured in alternating rounds and
// compared by their medians, so a slow moment does not land on one side only.
console.log(`\n${CONNECTIONS} clients x ${SECONDS} s per run, ${ROUNDS} rounds, page of 50 invoices with customer and line items`);
await runLoad({ url: baseline.url, body, headers, connections: CONNECTIONS, seconds: 2 }); // warm-up
await runLoad({ url: gateway.graphqlUrl, body, headers: { ...headers, ...auth }, connections: CONNECTIONS, seconds: 2 });
const base: LoadResult[] = [];
const gw: LoadResult[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['base', 'gw'] : ['gw', 'base'];
  for (const which of order) {
    if (which === 'base') base.push(await measure('hand-written baseline', baseline.url, {}));
    else gw.push(await measure('switchboard gateway', gateway.graphqlUrl, auth));
  }
}
const baseRps = median(base.map((r) => r.requestsPerSecond));
const gwRps = median(gw.map((r) => r.requestsPerSecond));
const gwP99 = median(gw.map((r) => r.p99));
console.log(`\nmedians: baseline ${fmt(baseRps)} req/s, gateway ${fmt(gwRps)} req/s (p50 ${fmt(median(gw.map((r) => r.p50)), 0)} ms, p99 ${fmt(gwP99, 0)} ms)`);
console.log(`ratio gateway / baseline: ${fmt(gwRps / baseRps, 2)} (target >= 0.80)   gateway p99: ${fmt(gwP99, 0)} ms (target < 150 ms)`);

await baseline.stop();
await gateway.stop();
await db.close();
process.exit(0);
