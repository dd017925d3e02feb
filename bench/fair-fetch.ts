/**
 * `npm run bench:fair-fetch`: the ways of fetching outbound entries that ADR 0011 weighed, on one
 * backlog: integration A with BENCH_BACKLOG (100,000) waiting entries queued first, then 5 for each
 * of the other integrations (B and, for the scaling rows, more). Each fetch runs in a transaction
 * that is rolled back, so every run sees the same queue. Prints each way's time per fetch (median
 * and p95 of 30 runs) and what it returns:
 *
 * 1. pg-boss's fetch (arrival order), as the worker fetched before ADR 0011;
 * 2. pg-boss's fetch with `groupConcurrency` and `ignoreGroups` (A at its cap, so left out);
 * 3. a pg-boss queue per integration, one fetch per integration with waiting work;
 * 4. the fair fetch (src/jobs/fair-fetch.ts), one statement.
 */
import 'reflect-metadata';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { benchDatabase, benchGateway, fmt } from './support.js';
import { outboundFetchSql } from '../src/jobs/fair-fetch.js';
import { OUTBOUND_QUEUE } from '../src/jobs/queue-names.js';
import { PROVIDERS } from '../src/providers/registry.js';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 100_000);
const RUNS = 30;
const BATCH = 30;
const SCALE = [2, 20, 200];

const db = await benchDatabase();
// An API process: the schema, the queues and the fair fetch's index, but no worker to take entries.
const { gateway } = await benchGateway(db.url, { ROLE: 'api' });
const boss = gateway.boss;
const client = new pg.Client({ connectionString: db.url });
await client.connect();
const inTx = { executeSql: (text: string, values?: unknown[]) => client.query(text, values as unknown[]) };

const integrations: string[] = [];
for (let i = 0; i < Math.max(...SCALE); i++) {
  const id = randomUUID();
  integrations.push(id);
  await client.query(`INSERT INTO integration (id, provider, name, base_url) VALUES ($1, 'STRIPE', $2, 'https://api.stripe.com')`, [id, `bench ${i}`]);
}
const [a, b] = integrations;

/** `n` entries for an integration in `queue` (in its group), in batches. */
async function enqueue(queue: string, integrationId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 5_000) {
    const jobs = Array.from({ length: Math.min(5_000, n - i) }, () => ({ data: { jobId: randomUUID(), integrationId }, group: { id: integrationId } }));
    // (The per-integration queues need no group; it does no harm there.)
    await boss.insert(queue, jobs, { returnId: false });
  }
}

console.log(`queueing ${BACKLOG} entries of A, then 5 of each other integration (the shared queue, and a queue per integration) ...`);
const perIntegrationQueue = (id: string) => `provider-calls-${id}`;
await enqueue(OUTBOUND_QUEUE, a, BACKLOG);
await boss.createQueue(perIntegrationQueue(a), { policy: 'standard' });
await enqueue(perIntegrationQueue(a), a, BACKLOG);
for (const id of integrations.slice(1)) {
  await enqueue(OUTBOUND_QUEUE, id, 5);
  await boss.createQueue(perIntegrationQueue(id), { policy: 'standard' });
  await enqueue(perIntegrationQueue(id), id, 5);
}
await client.query(`ANALYZE pgboss.job_common`);
const [{ table_name: table }] = (await client.query(`SELECT table_name FROM pgboss.queue WHERE name = $1`, [OUTBOUND_QUEUE])).rows;

/**
 * Runs `fetch` RUNS times (after 3 unmeasured), each in a transaction rolled back, after `setup`
 * (in the same transaction, not timed); ms per run and the last result's integrations.
 */
async function measure(
  fetch: () => Promise<Array<{ data?: { integrationId?: string } }>>,
  setup: () => Promise<unknown> = async () => undefined,
): Promise<{ p50: number; p95: number; groups: Map<string, number> }> {
  const times: number[] = [];
  let last: Array<{ data?: { integrationId?: string } }> = [];
  for (let i = 0; i < RUNS + 3; i++) {
    await client.query('BEGIN');
    await setup();
    const started = performance.now();
    last = await fetch();
    const ms = performance.now() - started;
    await client.query('ROLLBACK');
    if (i >= 3) times.push(ms);
  }
  times.sort((x, y) => x - y);
  const groups = new Map<string, number>();
  for (const e of last) groups.set(e.data?.integrationId ?? '?', (groups.get(e.data?.integrationId ?? '?') ?? 0) + 1);
  return { p50: times[Math.floor(times.length / 2)], p95: times[Math.ceil(times.length * 0.95) - 1], groups };
}

const names = new Map(integrations.map((id, i) => [id, i === 0 ? 'A' : i === 1 ? 'B' : 'other']));
const describe = (groups: Map<string, number>) => {
  const byName = new Map<string, number>();
  for (const [id, n] of groups) byName.set(names.get(id) ?? id, (byName.get(names.get(id) ?? id) ?? 0) + n);
  return [...byName].map(([name, n]) => `${name} ${n}`).join(', ') || 'nothing';
};
const row = (what: string, m: { p50: number; p95: number; groups: Map<string, number> }) =>
  console.log(`${what.padEnd(72)} ${fmt(m.p50, 2).padStart(7)} ms  p95 ${fmt(m.p95, 2).padStart(7)} ms   returns: ${describe(m.groups)}`);

const fairFetch = (limit: number, held: { ids: string[]; held: number[] } = { ids: [], held: [] }) =>
  client
    .query(outboundFetchSql(table), [
      OUTBOUND_QUEUE,
      limit,
      held.ids,
      held.ids.map(() => null),
      held.held,
      held.ids.map(() => 0),
      [],
      30_000,
      250,
      JSON.stringify(Object.fromEntries(Object.entries(PROVIDERS).map(([k, p]) => [k, p.defaultRequestsPerSecond]))),
      JSON.stringify({ concurrency: 10, weight: 1, timeoutMs: 10_000, budgetTimeouts: 4 }),
    ])
    .then((r) => r.rows as Array<{ data?: { integrationId?: string } }>);

// The shared queue with A's backlog and B's 5 (the others' entries removed in the rolled-back transaction).
const onlyAB = () => client.query(`DELETE FROM pgboss.job WHERE name = $1 AND group_id <> ALL($2)`, [OUTBOUND_QUEUE, [a, b]]);
console.log(`\n${BACKLOG} entries of A ahead of 5 of B, a fetch of up to ${BATCH}:`);
row('1. pg-boss fetch, arrival order', await measure(() => boss.fetch(OUTBOUND_QUEUE, { batchSize: BATCH, db: inTx }) as never, onlyAB));
row(
  '2. pg-boss fetch, groupConcurrency 10, A ignored (at its cap)',
  await measure(() => boss.fetch(OUTBOUND_QUEUE, { batchSize: BATCH, groupConcurrency: 10, ignoreGroups: [a], db: inTx }) as never, onlyAB),
);
row('4. fair fetch, one statement (A up to its cap of 10)', await measure(() => fairFetch(BATCH), onlyAB));
row('4. fair fetch, A holding its 10 places here (at its cap)', await measure(() => fairFetch(BATCH, { ids: [a], held: [10] }), onlyAB));

console.log(`\nscaling with the integrations that have waiting entries (a queue per integration: one fetch each):`);
for (const n of SCALE) {
  const some = integrations.slice(0, n);
  row(
    `3. a queue per integration, ${n} integrations: ${n} fetches of up to 10`,
    await measure(async () => {
      const out = [];
      for (const id of some) out.push(...(await boss.fetch(perIntegrationQueue(id), { batchSize: 10, db: inTx })));
      return out as never;
    }),
  );
  // The shared queue with only these integrations' entries (the others' removed in the rolled-back transaction).
  const rest = integrations.slice(n);
  row(
    `4. fair fetch, ${n} integrations with work`,
    await measure(
      () => fairFetch(BATCH),
      () => client.query(`DELETE FROM pgboss.job WHERE name = $1 AND group_id = ANY($2)`, [OUTBOUND_QUEUE, rest]),
    ),
  );
}
console.log(`\nWith arrival order, B's first entry is fetched after all ${BACKLOG} of A's: at A's concurrency 10 and 3 s calls, ${fmt(BACKLOG / (10 / 3) / 3600, 1)} h later.`);

await client.end();
await gateway.stop();
await db.close();
process.exit(0);
