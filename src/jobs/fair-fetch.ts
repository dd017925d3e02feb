import pg from 'pg';
import type { Job, PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { UUID_PATTERN } from '../domain/shared/ids.js';
import { INBOUND_QUEUE, OUTBOUND_QUEUE, QUEUE_SCHEMA } from './queue-names.js';

/*
 * Fair fetch (docs/adr/0011-fair-share-across-integrations.md).
 *
 * pg-boss's own fetch takes the oldest due entries of a queue, whoever they belong to: 1,000
 * entries of a slow integration ahead of five of a healthy one are fetched first, and each
 * fetched entry then holds a worker's place while it waits for its integration's slot. Here every
 * entry of the two queues that carry an integration's work (outbound provider calls, inbound
 * webhook events) is in pg-boss's group of its integration (`group_id`, set when it is queued),
 * and one statement fetches per integration:
 *
 * 1. the integrations with waiting entries, found by a skip scan over an index of our own
 *    (FAIR_INDEX: one probe per integration with waiting entries, however long its backlog);
 * 2. for each, how many of its entries may be taken now (its quota): for outbound calls, what
 *    its concurrency cap leaves (across every worker process), what this process's in-flight
 *    budget leaves, one while a circuit is due for its probe, none while it is open or the
 *    integration is paused, and no more than its rate limit's schedule allows in the next
 *    RATE_LOOKAHEAD_MS;
 * 3. up to that many of its due entries, oldest first (an index range scan);
 * 4. of all those, the `limit` entries that keep the places fairest: ordered by how many places
 *    the integration would hold with this entry (the ones it already holds in this process plus
 *    its rank), divided by its weight. Integrations with less demand leave their share to others.
 *
 * The entries it returns are claimed exactly as pg-boss's fetch claims them (state `active`,
 * `started_on`, `heartbeat_on`, `retry_count` counting re-deliveries), so pg-boss's complete,
 * fail, touch and its supervisor treat them as its own. pg-boss is pinned (12.35.0); the claim
 * is checked against pg-boss's own fetch by a test (test/integration/isolation.test.ts).
 */

/** Our index on a queue table: waiting entries by queue, integration (group) and due time. */
const FAIR_INDEX = (table: string) => `switchboard_fair_${table}`;

/** How far ahead of now an integration's rate-limit schedule may be booked for its entries still to be fetched. */
export const RATE_LOOKAHEAD_MS = 250;


/** What the fair fetch returns: pg-boss's minimal job columns (what a settle is fenced on). */
export type FetchedEntry<T> = Job<T> & { groupId: string | null };

/** The tables pg-boss keeps the outbound and inbound queues in (both `job_common` unless partitioned). */
async function queueTables(boss: PgBoss): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of [OUTBOUND_QUEUE, INBOUND_QUEUE]) {
    const table = (await boss.getQueue(name))?.table;
    if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`pg-boss reported no usable table for the ${name} queue`);
    out[name] = table;
  }
  return out;
}

/**
 * Creates the fair fetch's index on the queue tables and puts entries queued before it into
 * their integration's group (groupUngrouped). One process at a time (an advisory lock), once per
 * start; both are no-ops when already done. The index is partial (waiting entries only), so it
 * is small, and built in a moment even with a backlog; the build blocks writes to the table while
 * it runs. It lives in pg-boss's schema, created here rather than by a migration because
 * pg-boss creates that schema after our migrations have run on a new database.
 */
export async function prepareFairFetch(connectionString: string, boss: PgBoss, log: Logger): Promise<void> {
  const tables = await queueTables(boss);
  const client = new pg.Client({ connectionString, application_name: 'switchboard-queue-setup' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:fair-fetch'))`);
    for (const table of new Set(Object.values(tables))) {
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${FAIR_INDEX(table)} ON ${QUEUE_SCHEMA}.${table} (name, group_id, start_after) WHERE state < 'active' AND NOT blocked`,
      );
    }
    const grouped = await groupUngrouped(client, boss, tables);
    await client.query('COMMIT');
    if (grouped) log.info({ entries: grouped }, 'queue entries of an earlier version were put in their integration group');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Puts entries without a group into their integration's group, in the transaction of `client`;
 * returns how many entries it changed. Only entries queued by a version before the fair fetch
 * (or by a process of that version still running, which an upgrade should not have) lack one,
 * and the fair fetch never takes an entry without a group: this runs at start (prepareFairFetch)
 * and in every orphan sweep (src/jobs/orphans.ts).
 *
 * An outbound entry's integration is in its data or, on the oldest entries, on its job's row. An
 * inbound entry of that time could name events of several integrations: a waiting one is replaced
 * by one entry per integration, each naming that integration's events (a running one is left to
 * finish; should it fail, the next sweep splits its retry).
 */
export async function groupUngrouped(client: pg.ClientBase, boss: PgBoss, tables?: Record<string, string>): Promise<number> {
  const t = tables ?? (await queueTables(boss));
  const { rowCount } = await client.query(
    `UPDATE ${QUEUE_SCHEMA}.${t[OUTBOUND_QUEUE]} q
        SET group_id = COALESCE(q.data->>'integrationId',
                                (SELECT j.integration_id::text FROM integration_job j
                                  WHERE j.id = CASE WHEN q.data->>'jobId' ~* '${UUID_PATTERN}' THEN (q.data->>'jobId')::uuid END))
      WHERE q.name = $1 AND q.group_id IS NULL AND q.state < 'completed'`,
    [OUTBOUND_QUEUE],
  );
  const { rows: old } = await client.query<{ id: string; events: string[]; retry_limit: number; retry_delay: number; retry_count: number }>(
    `SELECT q.id, ARRAY(SELECT jsonb_array_elements_text(q.data->'eventIds')) AS events, q.retry_limit, q.retry_delay, q.retry_count
       FROM ${QUEUE_SCHEMA}.${t[INBOUND_QUEUE]} q
      WHERE q.name = $1 AND q.group_id IS NULL AND q.state IN ('created', 'retry') FOR UPDATE SKIP LOCKED`,
    [INBOUND_QUEUE],
  );
  if (old.length === 0) return rowCount ?? 0;
  const { rows: owners } = await client.query<{ id: string; integration_id: string }>(
    `SELECT id::text, integration_id::text FROM webhook_event WHERE id::text = ANY($1::text[])`,
    [old.flatMap((o) => o.events)],
  );
  const ownerOf = new Map(owners.map((o) => [o.id, o.integration_id]));
  const jobs = old.flatMap((o) => {
    const byIntegration = new Map<string, string[]>();
    for (const e of o.events) {
      const owner = ownerOf.get(e);
      if (owner) byIntegration.set(owner, [...(byIntegration.get(owner) ?? []), e]);
    }
    // Its attempts so far stay counted: retryLimit less what it already spent.
    return [...byIntegration].map(([integrationId, eventIds]) => ({
      data: { eventIds },
      group: { id: integrationId },
      retryLimit: Math.max(0, o.retry_limit - o.retry_count),
      retryDelay: o.retry_delay,
      retryBackoff: true,
    }));
  });
  const db = { executeSql: async (text: string, values?: unknown[]) => ({ rows: (await client.query(text, values as unknown[])).rows }) };
  if (jobs.length > 0) await boss.insert(INBOUND_QUEUE, jobs, { db, returnId: false });
  await client.query(`DELETE FROM ${QUEUE_SCHEMA}.${t[INBOUND_QUEUE]} WHERE name = $1 AND id = ANY($2::uuid[])`, [INBOUND_QUEUE, old.map((o) => o.id)]);
  return (rowCount ?? 0) + old.length;
}

/** The integrations with waiting entries in queue $1: one index probe each (a skip scan over FAIR_INDEX). */
const waitingGroups = (table: string) => `
  waiting(g) AS (
    (SELECT q.group_id FROM ${QUEUE_SCHEMA}.${table} q
      WHERE q.name = $1 AND q.state < 'active' AND NOT q.blocked AND q.group_id IS NOT NULL
      ORDER BY q.group_id LIMIT 1)
    UNION ALL
    SELECT (SELECT q.group_id FROM ${QUEUE_SCHEMA}.${table} q
             WHERE q.name = $1 AND q.state < 'active' AND NOT q.blocked AND q.group_id > w.g
             ORDER BY q.group_id LIMIT 1)
    FROM waiting w WHERE w.g IS NOT NULL
  )`;

/** The integration (alias i) of a waiting group (alias w): a group that is not an integration id matches none. */
const INTEGRATION_OF_GROUP = `i.id = CASE WHEN w.g ~* '${UUID_PATTERN}' THEN w.g::uuid END`;

/**
 * Steps 3 and 4 of the fetch, then pg-boss's claim, given a `lane` CTE of (g, quota, held,
 * weight). $1 queue, $2 the most entries to return.
 */
const pickAndClaim = (table: string) => `
  picked AS (
    SELECT p.id, lane.held, lane.weight, row_number() OVER (PARTITION BY lane.g ORDER BY p.start_after, p.id) AS rn
    FROM lane CROSS JOIN LATERAL (
      SELECT q.id, q.start_after FROM ${QUEUE_SCHEMA}.${table} q
      WHERE q.name = $1 AND q.group_id = lane.g AND q.state < 'active' AND NOT q.blocked AND q.start_after <= ${QUEUE_SCHEMA}.job_now()
      ORDER BY q.start_after LIMIT GREATEST(0, LEAST(lane.quota, $2))
      FOR UPDATE SKIP LOCKED) p
  ), chosen AS MATERIALIZED (
    SELECT id FROM picked ORDER BY (held + rn)::float8 / weight, rn, id LIMIT $2
  )
  UPDATE ${QUEUE_SCHEMA}.${table} q SET
    state = 'active',
    started_on = ${QUEUE_SCHEMA}.job_now(),
    heartbeat_on = ${QUEUE_SCHEMA}.job_now(),
    retry_count = CASE WHEN q.started_on IS NOT NULL THEN q.retry_count + 1 ELSE q.retry_count END
  WHERE q.name = $1 AND q.id = ANY (ARRAY(SELECT id FROM chosen))
  RETURNING q.id, q.name, q.data, q.retry_count AS "retryCount", q.expire_seconds AS "expireInSeconds",
            q.heartbeat_seconds AS "heartbeatSeconds", q.group_id AS "groupId", q.group_tier AS "groupTier"`;

/** An integration's setting (alias i) as a number, or the default in $defaults (a JSON object). */
const setting = (key: string, cast: 'int' | 'float8', defaults: string) => `COALESCE((i.settings->>'${key}')::${cast}, (${defaults}->>'${key}')::${cast})`;

/**
 * The outbound fair fetch. Parameters: $1 queue, $2 the most entries to return (this process's
 * free places), $3 integrations this process holds entries of or has timed calls for, with, per
 * integration: $4 the entries its in-flight budget lets this process take more (null: its
 * settings are not loaded here yet, so the fetch counts each entry held as its timeout), $5 the
 * entries this process holds, $6 of those, the ones whose call has not yet reserved a rate-limit
 * instant (they will, so they count against the rate's room); then $7 the queue entries this
 * process holds or is completing (pg-boss still counts them active; they are counted in $5
 * instead), $8 CIRCUIT_COOLDOWN_MS, $9 the rate look-ahead (ms), $10 each provider's default
 * requestsPerSecond (JSON), $11 the defaults of the other settings it reads (JSON).
 *
 * Concurrency: an integration's entries held anywhere (active in pg-boss, by any worker process)
 * and its slots leased (a worker that died keeps its lease until it expires) both count against
 * its cap, so no process fetches an entry its integration has no slot for.
 */
export const outboundFetchSql = (table: string) => `
  WITH RECURSIVE ${waitingGroups(table)},
  local AS (
    SELECT * FROM unnest($3::uuid[], $4::int[], $5::int[], $6::int[]) AS l(id, room, held, unpaced)
  ), lane AS MATERIALIZED (
    SELECT w.g, COALESCE(l.held, 0) AS held, s.weight,
      LEAST(
        s.concurrency - COALESCE(l.held, 0) - (SELECT count(*) FROM ${QUEUE_SCHEMA}.${table} a
                                                WHERE a.name = $1 AND a.group_id = w.g AND a.state = 'active' AND a.group_id IS NOT NULL
                                                  AND a.id <> ALL($7::uuid[]))::int,
        s.concurrency - (SELECT count(*) FROM integration_slot sl
                          WHERE sl.integration_id = i.id AND sl.slot < s.concurrency AND sl.lease_until > clock_timestamp())::int,
        -- Not yet timed here: each call counts its timeout against the budget; one at least when none is held.
        COALESCE(l.room, CASE WHEN COALESCE(l.held, 0) = 0 THEN GREATEST(1, s.budget / s.timeout)
                              ELSE GREATEST(0, (s.budget - l.held * s.timeout) / s.timeout) END),
        CASE WHEN i.circuit = 'CLOSED' THEN NULL
             WHEN (i.circuit = 'OPEN' AND i.circuit_opened_at <= now() - $8::int * interval '1 ms')
               OR (i.circuit = 'HALF_OPEN' AND i.circuit_probe_until < now()) THEN 1
             ELSE 0 END,
        CASE WHEN t.tat IS NULL OR t.tat <= clock_timestamp() + $9::int * interval '1 ms'
             THEN floor(($9::int - GREATEST(0, EXTRACT(EPOCH FROM (t.tat - clock_timestamp())) * 1000)) / (1000 / (0.95 * s.rps)))::int + 1
                  - COALESCE(l.unpaced, 0)
             ELSE 0 END
      ) AS quota
    FROM waiting w
    JOIN integration i ON ${INTEGRATION_OF_GROUP}
    CROSS JOIN LATERAL (SELECT ${setting('concurrency', 'int', '$11::jsonb')} AS concurrency,
                               ${setting('weight', 'int', '$11::jsonb')} AS weight,
                               COALESCE((i.settings->>'inFlightBudgetMs')::int,
                                        LEAST(3600000, ($11::jsonb->>'budgetTimeouts')::int * ${setting('timeoutMs', 'int', '$11::jsonb')})) AS budget,
                               ${setting('timeoutMs', 'int', '$11::jsonb')} AS timeout,
                               COALESCE((i.settings->>'requestsPerSecond')::float8, ($10::jsonb->>i.provider)::float8) AS rps) s
    LEFT JOIN local l ON l.id = i.id
    LEFT JOIN integration_throttle t ON t.integration_id = i.id
    WHERE w.g IS NOT NULL AND i.status = 'ACTIVE'
  ), ${pickAndClaim(table)}`;

/**
 * The inbound fair fetch. $1 queue, $2 the most entries (jobs) to return, $3 the integrations
 * this process holds entries of and $4 how many each, $5 how many entries one process holds at
 * most ($2 + what it holds). No integration takes more than its even share of those among the
 * integrations with waiting entries, counting one more: so one more integration's entries always
 * find room at once, however large the others' backlogs.
 */
export const inboundFetchSql = (table: string) => `
  WITH RECURSIVE ${waitingGroups(table)},
  local AS (
    SELECT * FROM unnest($3::uuid[], $4::int[]) AS l(id, held)
  ), lane AS MATERIALIZED (
    SELECT w.g, COALESCE(l.held, 0) AS held, ${setting('weight', 'int', `'{"weight":1}'::jsonb`)} AS weight,
           GREATEST(1, $5::int / (count(*) OVER () + 1)::int) - COALESCE(l.held, 0) AS quota
    FROM waiting w
    JOIN integration i ON ${INTEGRATION_OF_GROUP}
    LEFT JOIN local l ON l.id = i.id
    WHERE w.g IS NOT NULL AND i.status = 'ACTIVE'
  ), ${pickAndClaim(table)}`;
