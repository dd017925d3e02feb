import { setMaxListeners } from 'node:events';
import DataLoader from 'dataloader';
import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { ProviderError, type CallContext, type HttpExchange, type OperationResult } from '../providers/connector.js';
import { PROVIDERS } from '../providers/registry.js';
import type { CanonicalEntityType } from '../domain/external-ref/external-ref.entity.js';
import { CircuitState, Integration, IntegrationStatus } from '../domain/integration/integration.entity.js';
import { defaultSettings, effectiveSettings, IN_FLIGHT_BUDGET_TIMEOUTS, type IntegrationSettings } from '../domain/integration/integration-settings.js';
import { IntegrationJob, JobStatus } from '../domain/job/integration-job.entity.js';
import { Direction, IntegrationLog, LogStatus } from '../domain/job/integration-log.entity.js';
import { isUuid, newId, UUID_PATTERN } from '../domain/shared/ids.js';
import { prepared } from '../db/prepared.js';
import { isDatabaseUnavailable } from '../db/db-errors.js';
import { retryWhileUnavailable } from '../db/retry.js';
import { changeToProvider,
  circuitState,
  expectedCallSeconds,
  inFlightBudget,
  inFlightSeconds,
  integrationConcurrency,
  integrationJobsWaiting,
  integrationSlotsInUse,
  onScrape,
  providerCallDuration,
  providerCalls,
  providerErrors,
  queueDepth,
  queueOldestAge,
  slotWait,
  workerBusy,
  workerPlaces,
  workerPlacesTotal,
  workerTimeShare,
} from '../observability/metrics.js';
import type { Services } from '../services.js';
import { backoffWithFullJitter, FailureCounter } from './circuit-breaker.js';
import { paceIntervalMs, RESERVE_SQL } from './shared-rate.js';
import { RateLease } from './rate-lease.js';
import { SlotGate, type SlotWake } from './slot-gate.js';
import type { EventBus } from './job-events.js';
import { insertLogSql, insertLogsSql, logParams, logRecord, logService } from './log-row.js';
import { linkRecords, upsertLinksSql } from '../domain/external-ref/external-ref.service.js';
import { JOB_COLUMN_LIST, jobFromRow } from './job-row.js';
import { OUTBOUND_QUEUE, QUEUE_SCHEMA, type OutboundQueueData } from './queue-names.js';
import { outboundTable, queueDb } from './queue.js';
import { outboundFetchSql, RATE_LOOKAHEAD_MS, type FetchedEntry } from './fair-fetch.js';
import { Lanes, SHARE_SAMPLE_MS } from './worker-lanes.js';

export interface OutboundWorkerOptions {
  concurrency: number;
  circuitFailureThreshold: number;
  circuitCooldownMs: number;
  heartbeatSeconds: number;
  /** A fetch slower than this refreshes the planner's statistics of the queue table (see refreshQueueStatistics). */
  slowFetchMs: number;
}

/** How long a paused integration's job waits before it looks again (resume wakes it at once). */
const PAUSE_RECHECK_MS = 30_000;
/** How long a job behind an unfinished earlier job of its entity waits before it looks again (the earlier job's finisher wakes it at once). */
const ORDER_RECHECK_MS = 10_000;
/** A process ANALYZEs the queue table at most this often (see refreshQueueStatistics). */
const ANALYZE_EVERY_MS = 10_000;
/** ... and looks whether its statistics are stale at most this often. */
const ANALYZE_CHECK_EVERY_MS = 1_000;
/** How long the fetch loop waits when nothing is due. */
const FETCH_IDLE_MS = 250;
/** The longest the fetch loop waits for more free places before fetching (see fetchLoop). */
const FETCH_GATHER_MAX_MS = 200;
/** How long to wait for a free concurrency slot in-process before putting the job off. */
const SLOT_WAIT_MS = 2_000;
/** While attempts wait for a slot, how often the first of them asks again (slots other processes free send no signal here). */
const SLOT_POLL_MS = 100;

/** A fetched queue entry: its id, data and the attempt counter that fences complete/fail/touch to this delivery. */
type BossJob = FetchedEntry<OutboundQueueData>;

interface Loaded {
  job: IntegrationJob;
  integration: Integration;
  settings: IntegrationSettings;
}

/** An attempt started by START_SQL. */
interface Started {
  job: IntegrationJob;
  slot: number;
  /** Provider ids of the job's entity and its customer, by `Type:id`, read as the attempt started. */
  refs: Record<string, string>;
  /** The entity ids `refs` covers: one of them missing from `refs` was not linked then. */
  refIds: string[];
}

interface StartRequest {
  jobId: string;
  integrationId: string;
  concurrency: number;
  leaseMs: number;
  probe: boolean;
  version: number | null;
}

interface SucceedRequest {
  job: IntegrationJob;
  integration: Integration;
  slot: number;
  result: OperationResult;
  log: IntegrationLog;
}

/** The most attempts one cohort statement starts or completes. */
const COHORT_MAX = 200;

type StartRow = Record<string, unknown> & {
  behind: boolean;
  ready: boolean;
  slot: number | null;
  status: string | null;
  refs: Record<string, string> | null;
  /** When the job was due: its retry time, or when it was enqueued (for switchboard_integration_slot_wait_seconds). */
  due_at: Date | null;
};

/** The columns jobFromRow reads, of the table or CTE called `alias`. */
const jobColumns = (alias: string) => JOB_COLUMN_LIST.split(', ').map((c) => `${alias}.${c}`).join(', ');

/**
 * One statement for a cohort of finished attempts: each job COMPLETED, its provider links, its
 * slot released, the canonical effect of its operation (invoice.send opens a DRAFT invoice) and
 * its log row. It returns each job's id and new times. After its commit, the next job of each
 * job's entity is woken (JobService.wakeNext): always, since a next job enqueued while this
 * statement ran is not in its snapshot. $1 the cohort (JSON: job, result, integration, provider, slot, links), $2 the
 * holder, $3 the log rows (logRecord), $4 the job ids, $5 the integration ids.
 *
 * The id arrays ($4, $5, and $1 in START_SQL) are there for the planner: a join to a JSON
 * recordset or a CTE is estimated blindly and was planned as a hash join over every job of the
 * integration, 35 ms a statement with 4,000 jobs waiting; `id = ANY(array)` is an index lookup.
 */
const SUCCEED_SQL = `
  WITH x AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(job uuid, result jsonb, integration uuid, provider text, slot int, links jsonb)
  ), done AS (
    UPDATE integration_job j SET status = 'COMPLETED', result = x.result, last_error = NULL, completed_at = now(), updated_at = now()
    FROM x WHERE j.id = x.job AND j.id = ANY($4::uuid[])
    RETURNING j.id, j.integration_id, j.operation, j.entity_type, j.entity_id, j.completed_at, j.updated_at
  ), links AS (${upsertLinksSql('x.integration', 'x.provider', 'x.links', 'x CROSS JOIN LATERAL')}
  ), released AS (
    UPDATE integration_slot s SET lease_until = '-infinity', holder = NULL FROM x
    WHERE s.integration_id = x.integration AND s.slot = x.slot AND s.holder = $2 AND s.integration_id = ANY($5::uuid[])
  ), opened AS (
    UPDATE invoice i SET status = 'OPEN', issued_at = COALESCE(i.issued_at, now()), version = i.version + 1, updated_at = now()
    WHERE i.id IN (SELECT entity_id FROM done WHERE operation = 'invoice.send') AND i.status = 'DRAFT'
  ), logged AS (${insertLogsSql('$3')})
  SELECT done.id, done.completed_at, done.updated_at FROM done`;


/** A slot's lease outlives the longest attempt; a crashed worker's lease frees itself after it. */
const slotLeaseMs = (timeoutMs: number) => timeoutMs * 8 + 10_000;

/**
 * The longest a provider may hold an integration's calls in one go (CallContext.holdOff), and at
 * most half the slot lease, so an attempt waiting for its instant keeps its slot. A longer quota
 * wait is several holds, each renewed by the next refusal.
 */
export const MAX_HOLD_MS = 60_000;

/** The integration's next rate-limit instant is no earlier than $2 ms from now (a provider's hold). */
const HOLD_SQL = `INSERT INTO integration_throttle (integration_id, tat) VALUES ($1, clock_timestamp() + $2::int * interval '1 ms')
  ON CONFLICT (integration_id) DO UPDATE SET tat = GREATEST(integration_throttle.tat, EXCLUDED.tat)`;

/**
 * A step of the gateway's own inside a provider operation (PostgreSQL, not the provider): when it
 * fails, no request is sent for that step and the attempt fails as kind `gateway`. Left to the
 * connector's catch-all, a lost database connection ended the job FAILED as a provider `client`
 * error. Only failures that can pass (connection, resources, serialization, cancelled or
 * timed-out statements, a pool that gave no connection) are retried; the job's error names the
 * SQLSTATE only, the full error goes to the server log.
 */
function ownStep<A extends unknown[], R>(what: string, log: Logger, step: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await step(...args);
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      const code = (err as { code?: unknown }).code;
      const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
      const transient = sqlState === null || /^(08|53|57|58)/.test(sqlState) || sqlState === '40001' || sqlState === '40P01';
      log.warn({ err, step: what }, 'a gateway step inside a provider operation failed');
      throw new ProviderError('gateway', `${what} failed in the gateway${sqlState ? ` (SQLSTATE ${sqlState})` : ''}; no request was sent for this step`, transient);
    }
  };
}

// RESERVE_SQL (the shared rate-limit reservation) is in shared-rate.ts: sync runs reserve from the same schedule.

/** A job (alias j) that may start: waiting, or PROCESSING when its worker died with attempts left (a re-delivery). */
const STARTABLE = `(j.status IN ('PENDING', 'RETRYING') OR (j.status = 'PROCESSING' AND j.attempts < j.max_attempts))`;

/*
 * Index choice under generic plans. The worker's statements run on plans made once per
 * connection (src/db/prepared.ts) with the statistics of that moment, often while the tables are
 * young. Each lookup in them therefore gives the planner one indexable key only, the selective
 * one (a job id, an entity id); conditions on the integration or the entity type are written
 * `IS NOT DISTINCT FROM`, which no index serves, so they filter the few rows found. Written as
 * `=`, a plan made early chose an index led by integration_id and then read every reference
 * (3,000 rows a job after 3,000 customers) or every job of the integration on each call: the
 * start statement took 13 to 1,445 ms instead of 2 to 3 (docs/benchmarks.md, session 9).
 */

/**
 * A job (alias j) behind another in its entity's order: an unfinished job of the same entity at
 * the same integration was enqueued before it (lower `seq`). The engine keeps this order, not the
 * queue (OUTBOUND_QUEUE is a standard pg-boss queue); integration_job_open_entity_idx makes it one
 * index probe.
 */
const BEHIND = `(j.entity_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM integration_job p
    WHERE p.entity_id = j.entity_id AND p.integration_id IS NOT DISTINCT FROM j.integration_id AND p.entity_type IS NOT DISTINCT FROM j.entity_type
      AND p.entity_id IS NOT NULL AND p.seq < j.seq AND p.status IN ('PENDING', 'RETRYING', 'PROCESSING')))`;

/**
 * Starts a cohort of one integration's jobs in one statement. $1 the job ids, $2 integration,
 * $3 concurrency, $4 lease ms, $5 holder, $6 is the half-open probe, $7 the integration version
 * the caller's settings come from (null: any).
 * One row per job, in the order asked: whether it is behind an earlier job of its entity (BEHIND),
 * whether it and its integration may run, the slot taken for it (if any: the free slots go to the
 * jobs in the order asked), its row when it started, and the provider ids of its entity and its
 * customer (by `Type:id`). The rate limit is not reserved here (see RESERVE_SQL).
 */
const START_SQL = `
  WITH req AS (
    SELECT r.id, r.ord FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, ord)
  ), cand AS (
    SELECT j.id, req.ord, ${BEHIND} AS behind, COALESCE(j.next_attempt_at, j.created_at) AS due_at
    FROM req JOIN integration_job j ON j.id = req.id AND j.integration_id IS NOT DISTINCT FROM $2 AND ${STARTABLE}
    WHERE j.id = ANY($1::uuid[])
  ), ready AS (
    SELECT cand.id, row_number() OVER (ORDER BY cand.ord) AS n
    FROM cand
    WHERE NOT cand.behind AND EXISTS (SELECT 1 FROM integration i WHERE i.id = $2 AND i.status = 'ACTIVE' AND (i.circuit = 'CLOSED' OR $6::boolean)
                  AND ($7::int IS NULL OR i.version = $7))
  ), free AS (
    SELECT f.slot, row_number() OVER (ORDER BY f.slot) AS n FROM (
      SELECT slot FROM integration_slot
      WHERE integration_id = $2 AND slot < $3 AND lease_until < clock_timestamp()
      ORDER BY slot LIMIT (SELECT count(*) FROM ready) FOR UPDATE SKIP LOCKED) f
  ), taken AS (
    UPDATE integration_slot s SET lease_until = clock_timestamp() + $4::int * interval '1 ms', holder = $5
    FROM free JOIN ready ON ready.n = free.n
    WHERE s.integration_id = $2 AND s.slot = free.slot
    RETURNING s.slot, ready.id AS job_id
  ), started AS (
    UPDATE integration_job j SET status = 'PROCESSING', attempts = j.attempts + 1, updated_at = now(), next_attempt_at = NULL
    FROM taken WHERE j.id = taken.job_id AND j.id = ANY($1::uuid[]) AND ${STARTABLE}
    RETURNING ${jobColumns('j')}
  )
  SELECT req.id AS requested, COALESCE(cand.behind, false) AS behind, ready.id IS NOT NULL AS ready, taken.slot, cand.due_at,
         (SELECT json_object_agg(r.entity_type || ':' || r.entity_id, r.external_id) FROM external_ref r
          WHERE started.id IS NOT NULL AND r.integration_id IS NOT DISTINCT FROM $2
            AND r.entity_id = ANY(ARRAY[started.entity_id, CASE WHEN started.payload->>'customerId' ~* '${UUID_PATTERN}' THEN (started.payload->>'customerId')::uuid END])) AS refs,
         ${jobColumns('started')}
  FROM req LEFT JOIN cand ON cand.id = req.id LEFT JOIN ready ON ready.id = req.id LEFT JOIN taken ON taken.job_id = req.id LEFT JOIN started ON started.id = req.id
  ORDER BY req.ord`;

/** The reasons of switchboard_integration_jobs_waiting. */
const WAIT_REASONS = ['worker', 'concurrency_cap', 'rate_limit', 'retry_backoff', 'entity_order', 'paused', 'circuit_open'] as const;

/** Settings of an integration this process has not loaded yet (its first entries; the fetch itself read the real ones). */
const DEFAULT_SETTINGS = defaultSettings(0);

/** For the fair fetch: each provider's default requestsPerSecond, and the defaults of the settings it reads. */
const PROVIDER_RPS = JSON.stringify(Object.fromEntries(Object.entries(PROVIDERS).map(([name, p]) => [name, p.defaultRequestsPerSecond])));
const FETCH_DEFAULTS = JSON.stringify({
  concurrency: DEFAULT_SETTINGS.concurrency,
  weight: DEFAULT_SETTINGS.weight,
  timeoutMs: DEFAULT_SETTINGS.timeoutMs,
  budgetTimeouts: IN_FLIGHT_BUDGET_TIMEOUTS,
});

/** The integration a queue entry is for (its group; entries of an earlier version may only name it in their data). */
const laneOf = (job: BossJob) => job.groupId ?? job.data?.integrationId ?? 'ungrouped';

/**
 * Runs outbound jobs: PENDING -> PROCESSING -> COMPLETED, or -> RETRYING -> ... -> FAILED, with
 * the integration's timeout, retries with full-jitter backoff (or the provider's Retry-After),
 * a circuit breaker and a rate limit and concurrency cap shared through PostgreSQL.
 * Every transition is committed, then published on the event bus.
 */
export class OutboundWorker {
  private readonly counters = new Map<string, FailureCounter>();
  private readonly slotsReady = new Map<string, Promise<void>>();
  /** The integrations this process last loaded, by id; the start statement checks their version. */
  private readonly known = new Map<string, Omit<Loaded, 'job'>>();
  private readonly stopping = new AbortController();
  private readonly fetching = new AbortController();
  private readonly running = new Map<string, BossJob>();
  private readonly ready: BossJob[] = [];
  private placeFreed: (() => void) | null = null;
  /** What this process holds of each integration, and its in-flight time (the fair fetch's local half). */
  private readonly lanes = new Lanes();
  private sampler: NodeJS.Timeout | undefined;
  /** The table pg-boss keeps the outbound queue in (for the fair fetch). */
  private table = '';
  /** How long the last fetch took (ms). */
  private lastFetchMs = 0;
  private readonly toComplete: BossJob[] = [];
  /** Entries whose completion statement is running. */
  private readonly completing = new Set<string>();
  private completion: Promise<void> | null = null;
  private loop: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly holder = randomUUID();
  private stopScrape: (() => void) | null = null;
  /** Attempts starting in the same turn (a fetched batch, the places a cohort freed) share one START_SQL per integration. */
  private readonly starts = new DataLoader<StartRequest, StartRow>((reqs) => this.startCohort(reqs), { cache: false, maxBatchSize: COHORT_MAX });
  /** Attempts finishing in the same turn of the event loop share one SUCCEED_SQL. */
  private readonly completions = new DataLoader<SucceedRequest, Record<string, unknown>>((reqs) => this.succeedCohort(reqs), {
    cache: false,
    maxBatchSize: COHORT_MAX,
    batchScheduleFn: (run) => setImmediate(run),
  });

  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly services: Services,
    private readonly events: EventBus,
    private readonly log: Logger,
    private readonly options: OutboundWorkerOptions,
  ) {}

  /**
   * Fetches as many queue entries as there are free places (WORKER_CONCURRENCY), shared out
   * fairly between integrations and none an integration cannot start now (the fair fetch,
   * src/jobs/fair-fetch.ts), and runs each on its own: a slow call holds one place, not a whole batch. Running entries are heartbeated,
   * so if this process dies another worker picks them up after QUEUE_HEARTBEAT_SECONDS.
   */
  async start(): Promise<void> {
    // Every call in flight listens for the stop (WORKER_CONCURRENCY of them, not a leak).
    setMaxListeners(0, this.stopping.signal, this.fetching.signal);
    this.table = await outboundTable(this.boss);
    workerPlacesTotal.set(this.options.concurrency);
    this.sampler = setInterval(() => this.lanes.sample(), SHARE_SAMPLE_MS);
    this.sampler.unref();
    this.loop = this.fetchLoop().catch((err) => this.log.error({ err }, 'outbound fetch loop stopped'));
    const every = (this.options.heartbeatSeconds * 1000) / 2;
    this.heartbeat = setInterval(() => {
      const running = [...this.running.values()];
      if (running.length) this.boss.touch(OUTBOUND_QUEUE, running).catch((err) => this.log.warn({ err }, 'heartbeat failed'));
    }, every);
    this.stopScrape = onScrape(() => this.refreshGauges());
  }

  /** Entries held: running, plus fetched ones waiting for a place (`ready`). */
  private get held(): number {
    return this.running.size;
  }

  /** Entries running a call (each holds a place). */
  private get active(): number {
    return this.running.size - this.ready.length;
  }

  /**
   * Keeps up to half of WORKER_CONCURRENCY fetched entries ready beyond the places, so a freed
   * place starts its next job at once instead of waiting for a fetch. A fetch costs nearly as
   * much for one entry as for fifty (a round trip and a statement), so while entries are ready
   * the loop waits up to twice the last fetch's time for room for a larger batch; an idle worker
   * fetches at once.
   */
  private async fetchLoop(): Promise<void> {
    const prefetch = Math.ceil(this.options.concurrency / 2);
    const capacity = this.options.concurrency + prefetch;
    while (!this.fetching.signal.aborted) {
      if (capacity - this.held <= 0) {
        await this.nextFreePlace();
        continue;
      }
      if (this.ready.length > 0 && this.lastFetchMs > 0 && capacity - this.held < prefetch) {
        await this.freePlaces(capacity, prefetch, Math.min(2 * this.lastFetchMs, FETCH_GATHER_MAX_MS));
        if (this.fetching.signal.aborted) return;
      }
      let jobs: BossJob[] = [];
      const fetchStarted = performance.now();
      try {
        jobs = await this.fetchFair(capacity - this.held);
        this.lastFetchMs = performance.now() - fetchStarted;
        if (this.lastFetchMs > this.options.slowFetchMs) void this.refreshQueueStatistics(this.lastFetchMs);
      } catch (err) {
        if (this.fetching.signal.aborted) return;
        this.log.warn({ err }, 'fetching outbound jobs failed; trying again');
      }
      for (const job of jobs) {
        this.running.set(job.id, job);
        this.ready.push(job);
        this.lanes.hold(laneOf(job), job.id);
      }
      this.dispatch();
      // Nothing due, or nothing any integration may take now: poll again shortly (a deferred
      // retry falling due sends no notification), or as soon as a call ends (its integration may
      // take another then).
      if (jobs.length === 0) await this.wait(FETCH_IDLE_MS, true);
    }
  }

  private lastAnalyze = -Infinity;
  private lastAnalyzeCheck = -Infinity;

  /**
   * ANALYZE of the queue table after a slow fetch. pg-boss's fetch joins the entries it picked
   * back to the table; on statistics taken while the queue had few entries (autovacuum analysed
   * it quiet, or full of another queue's finished rows), the planner expects one row on each
   * side and walks every waiting entry for each one picked: 45 ms a fetch of 100 with 4,000
   * waiting, growing with the backlog, against 1 to 5 ms once analysed (docs/benchmarks.md,
   * session 10). A fetch is slow under load for other reasons too, so this is bounded: a
   * process looks at most every ANALYZE_CHECK_EVERY_MS and analyses at most every
   * ANALYZE_EVERY_MS; it runs only if the rows changed since the
   * table's last analysis pass autovacuum's own threshold (50 + 10% of the rows: autovacuum
   * would analyse it too, but only at its next look, up to a minute later), and in one process
   * at a time (an advisory lock). ANALYZE blocks no reads or writes, but its lock would cancel
   * an autovacuum working on the table: it waits at most 500 ms for that lock (less than the
   * 1 s after which autovacuum would be cancelled) and otherwise gives up until the next slow
   * fetch.
   */
  private async refreshQueueStatistics(fetchMs: number): Promise<void> {
    const now = Date.now();
    if (now - this.lastAnalyze < ANALYZE_EVERY_MS || now - this.lastAnalyzeCheck < ANALYZE_CHECK_EVERY_MS) return;
    this.lastAnalyzeCheck = now;
    try {
      const table = await outboundTable(this.boss);
      const analysed = await this.db.transaction(async (tx) => {
        const [stats] = (await tx.query(
          `SELECT pg_try_advisory_xact_lock(hashtextextended('switchboard:analyze-queue', 0)) AS mine,
                  COALESCE(s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL), true) AS stale
             FROM (SELECT 1) one LEFT JOIN pg_stat_user_tables s ON s.schemaname = $1 AND s.relname = $2`,
          [QUEUE_SCHEMA, table],
        )) as Array<{ mine: boolean; stale: boolean }>;
        if (!stats.mine || !stats.stale) return false;
        await tx.query(`SET LOCAL lock_timeout = '500ms'`);
        await tx.query(`ANALYZE ${QUEUE_SCHEMA}.${table}`);
        return true;
      });
      if (analysed) {
        this.lastAnalyze = Date.now();
        this.log.info({ fetchMs: Math.round(fetchMs), table }, 'slow queue fetch: queue table statistics refreshed');
      }
    } catch (err) {
      this.log.warn({ err }, 'could not refresh the queue table statistics');
    }
  }

  /** Starts ready entries while places are free. */
  private dispatch(): void {
    while (this.ready.length > 0 && this.active < this.options.concurrency && !this.fetching.signal.aborted) {
      void this.run(this.ready.shift()!);
    }
  }

  private async run(job: BossJob): Promise<void> {
    const lane = laneOf(job);
    this.lanes.place(lane, job.id);
    try {
      await this.handle(job);
    } finally {
      // The place is free once the job's outcome is written; the queue entry completes in the
      // next group (stop() waits for it).
      workerBusy.inc({ integration: lane }, this.lanes.release(lane, job.id) / 1000);
      this.running.delete(job.id);
      this.dispatch();
      this.placeFreed?.();
    }
    await this.complete(job);
  }

  /**
   * Completes queue entries in groups (one statement for all that finished within a few ms).
   * Each is fenced to its delivery: after a retryLater() the entry is already back in the queue
   * and completing it changes nothing.
   */
  private complete(job: BossJob): Promise<void> {
    this.toComplete.push(job);
    this.completion ??= new Promise<void>((resolve) => {
      setTimeout(() => {
        const batch = this.toComplete.splice(0);
        this.completion = null;
        // Active in pg-boss until this commits: the fair fetch must not count them as another process's.
        for (const entry of batch) this.completing.add(entry.id);
        this.boss
          .complete(OUTBOUND_QUEUE, batch)
          .catch((err) => this.log.warn({ err, count: batch.length }, 'completing queue entries failed'))
          .then(() => {
            for (const entry of batch) this.completing.delete(entry.id);
            resolve();
          });
      }, 5);
    });
    return this.completion;
  }

  /** Until `count` of `capacity` places are free, or `ms` have passed. */
  private async freePlaces(capacity: number, count: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (capacity - this.held < count) {
      const left = deadline - Date.now();
      if (left <= 0 || this.fetching.signal.aborted) return;
      await this.wait(left, true);
    }
  }

  private nextFreePlace(): Promise<void> {
    return this.wait(null, true);
  }

  /** Until `ms` pass (null: no limit), a place frees (if `onPlace`), or fetching stops. */
  private wait(ms: number | null, onPlace: boolean): Promise<void> {
    return this.untilAborted((resolve) => {
      const timer = ms === null ? null : setTimeout(resolve, ms);
      const freed = () => resolve();
      if (onPlace) this.placeFreed = freed;
      return () => {
        if (timer) clearTimeout(timer);
        if (this.placeFreed === freed) this.placeFreed = null;
      };
    });
  }

  /** A wait that also ends when fetching stops; its abort listener goes when it ends. */
  private untilAborted(start: (resolve: () => void) => () => void): Promise<void> {
    const signal = this.fetching.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        cancel();
        resolve();
      };
      const cancel = start(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Stops fetching and lets the calls in flight finish; whatever still runs after `timeoutMs`
   * is aborted and goes back to the queue (its heartbeat stops) for another worker.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopScrape?.();
    this.fetching.abort();
    await this.loop;
    // Fetched entries that never started go back to the queue for another worker.
    const unstarted = this.ready.splice(0);
    for (const job of unstarted) {
      this.running.delete(job.id);
      this.lanes.release(laneOf(job), job.id);
    }
    if (unstarted.length > 0) {
      await this.boss.fail(OUTBOUND_QUEUE, unstarted, { reason: 'worker stopping; not started' }).catch((err) => this.log.warn({ err, count: unstarted.length }, 'could not hand back unstarted queue entries'));
    }
    const drain = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (this.running.size > 0 && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          this.placeFreed = resolve;
          setTimeout(resolve, 100);
        });
      }
    };
    await drain(timeoutMs);
    // Calls still running are aborted; their handlers record the attempt before the database closes.
    this.stopping.abort();
    await drain(2_000);
    while (this.completion) await this.completion;
    clearInterval(this.heartbeat);
    clearInterval(this.sampler);
  }

  private counter(integrationId: string): FailureCounter {
    let counter = this.counters.get(integrationId);
    if (!counter) this.counters.set(integrationId, (counter = new FailureCounter(this.options.circuitFailureThreshold)));
    return counter;
  }

  /** The job and its integration, in one statement. */
  private async load(jobId: string): Promise<Loaded | null> {
    const job = (await this.db
      .getRepository(IntegrationJob)
      .createQueryBuilder('j')
      .innerJoinAndMapOne('j.integration', Integration, 'i', 'i.id = j.integrationId')
      .where('j.id = :jobId', { jobId })
      .getOne()) as (IntegrationJob & { integration: Integration }) | null;
    if (!job || ![JobStatus.PENDING, JobStatus.RETRYING, JobStatus.PROCESSING].includes(job.status)) return null;
    const { integration } = job;
    return { job, integration, settings: effectiveSettings(integration.settings, PROVIDERS[integration.provider].defaultRequestsPerSecond) };
  }

  /**
   * One queue delivery. Never throws: every outcome is written to the job row and the queue.
   * Usually the attempt starts at once from the integration this process last saw (the start
   * statement checks its version, pause and circuit); anything else (first job of an
   * integration, a changed integration, a re-delivery) loads the job and
   * integration and takes the long way.
   */
  async handle(bossJob: BossJob): Promise<void> {
    try {
      // Delivered again while this process still records its attempt (the database was away
      // long enough for the entry's heartbeat to lapse): no second call; look again later.
      if (this.attempting.has(bossJob.data.jobId)) {
        await this.defer(bossJob, bossJob.data.jobId, 1_000, 'its attempt in this process is still being recorded');
        return;
      }
      const known = bossJob.data.integrationId ? this.known.get(bossJob.data.integrationId) : undefined;
      if (known && known.integration.status === IntegrationStatus.ACTIVE && known.integration.circuit === CircuitState.CLOSED) {
        const started = await this.startAttempt(bossJob, bossJob.data.jobId, known, false, known.integration.version);
        if (started === 'put off') return;
        if (started) {
          await this.attempt(bossJob, { ...known, job: started.job }, started, false);
          return;
        }
      }
      const loaded = await this.load(bossJob.data.jobId);
      if (!loaded) return; // cancelled or finished meanwhile: the queue entry just completes
      this.known.set(loaded.integration.id, { integration: loaded.integration, settings: loaded.settings });
      const { integration } = loaded;
      if (loaded.job.status === JobStatus.PROCESSING && loaded.job.attempts >= loaded.job.maxAttempts) {
        // Its worker died during the last allowed attempt: no call beyond maxAttempts.
        await this.abandon(loaded.job);
        return;
      }

      if (integration.status !== IntegrationStatus.ACTIVE) {
        await this.deferWhilePaused(bossJob, loaded.job.id, integration.id);
        return;
      }
      const probe = await this.passCircuit(bossJob, loaded);
      if (probe === null) return;
      const started = await this.startAttempt(bossJob, loaded.job.id, loaded, probe, null);
      if (started && started !== 'put off') await this.attempt(bossJob, loaded, started, probe);
    } catch (err) {
      // A fault of our own (database gone, bug): let pg-boss retry the delivery later.
      this.log.error({ err, jobId: bossJob.data.jobId }, 'outbound job handling failed');
      await this.boss.fail(OUTBOUND_QUEUE, bossJob, { error: 'handler error' }).catch(() => undefined);
    }
  }

  /**
   * Closed: go. Open within its cool-down: put the job off until the cool-down ends (no attempt
   * is spent). Open past it: one worker wins the half-open probe, the others wait.
   * Returns whether this call is the probe, or null when the job was put off.
   */
  private async passCircuit(bossJob: BossJob, loaded: Loaded): Promise<boolean | null> {
    const { integration, settings } = loaded;
    if (integration.circuit === CircuitState.CLOSED) return false;
    const cooldown = this.options.circuitCooldownMs;
    const openedAt = integration.circuitOpenedAt?.getTime() ?? 0;
    const now = Date.now();
    if (integration.circuit === CircuitState.OPEN && now < openedAt + cooldown) {
      providerErrors.inc({ integration: integration.id, provider: integration.provider, operation: loaded.job.operation, kind: 'circuit_open' });
      await this.defer(bossJob, loaded.job.id, openedAt + cooldown - now + Math.random() * 250, 'circuit open');
      return null;
    }
    const won = (await this.db.query(
      `UPDATE integration SET circuit = 'HALF_OPEN', circuit_probe_until = now() + $2::int * interval '1 ms'
       WHERE id = $1 AND ((circuit = 'OPEN' AND circuit_opened_at <= now() - $3::int * interval '1 ms')
                          OR (circuit = 'HALF_OPEN' AND circuit_probe_until < now()))
       RETURNING id`,
      [integration.id, settings.timeoutMs * 2 + 5_000, cooldown],
    )) as [unknown[], number];
    if (won[0].length === 1) return true;
    providerErrors.inc({ integration: integration.id, provider: integration.provider, operation: loaded.job.operation, kind: 'circuit_open' });
    await this.defer(bossJob, loaded.job.id, Math.min(cooldown, 1_000) + Math.random() * 500, 'circuit half-open: waiting for the probe');
    return null;
  }

  /**
   * Starts an attempt in one statement: takes one of the integration's `concurrency` slots (a
   * lease shared by every worker process), marks the job PROCESSING and reads the provider
   * ids the call may need. The integration's pause and circuit, and the job's place in its
   * entity's order, are checked again in the same statement, so a job loaded just before the
   * circuit opened does not slip a call through.
   *
   * While every slot is taken it waits for one at the integration's SlotGate: woken when this
   * process frees a slot, or when its turn comes to ask again for slots other processes freed;
   * after SLOT_WAIT_MS it puts the job off. A job behind an earlier one of its entity is put off
   * until that one finishes. Returns the attempt, 'put off' when the job was put off or is gone,
   * or, with `version` (the fast path, on the integration as this process last saw it), null
   * when the integration is not as seen: the caller loads it and tries again without `version`.
   */
  private async startAttempt(
    bossJob: BossJob,
    jobId: string,
    { integration, settings }: Omit<Loaded, 'job'>,
    probe: boolean,
    version: number | null,
  ): Promise<Started | 'put off' | null> {
    await this.slotRows(integration.id, settings.concurrency);
    const leaseMs = slotLeaseMs(settings.timeoutMs);
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (let woken: SlotWake | null = null; ; ) {
      const row = await this.starts.load({ jobId, integrationId: integration.id, concurrency: settings.concurrency, leaseMs, probe, version });
      if (row.status !== null) {
        // A poll found a free slot (freed by another process, or a lease that ran out): maybe more.
        if (woken === 'poll') this.gate(integration.id).nudge();
        if (row.due_at) slotWait.observe({ integration: integration.id }, Math.max(0, Date.now() - new Date(row.due_at).getTime()) / 1000);
        const job = jobFromRow(row);
        const refIds = [job.entityId, (job.payload as { customerId?: unknown }).customerId].filter((v): v is string => typeof v === 'string' && isUuid(v));
        return { job, slot: row.slot!, refs: row.refs ?? {}, refIds };
      }
      if (row.slot !== null) {
        await this.releaseSlot(this.db.manager, integration.id, row.slot);
        this.slotsFreed(integration.id, 1);
      }
      if (row.behind) {
        await this.waitTurn(bossJob, jobId);
        return 'put off';
      }
      if (row.ready && row.slot === null) {
        const left = deadline - Date.now();
        if (left <= 0) {
          await this.defer(bossJob, jobId, 250 + Math.random() * 750, 'concurrency limit');
          return 'put off';
        }
        woken = await this.gate(integration.id).wait(left);
        continue;
      }
      if (version !== null) return null;
      // Paused, circuit opened, cancelled or finished since it was loaded.
      const current = await this.load(jobId);
      if (current) await this.defer(bossJob, jobId, 100 + Math.random() * 400, 'integration changed (circuit or pause) before the call');
      return 'put off';
    }
  }

  /**
   * The integration's slot rows exist (once per integration and concurrency in this process:
   * the first jobs of an integration, fetched together, share the one statement).
   */
  private slotRows(integrationId: string, concurrency: number): Promise<void> {
    const key = `${integrationId}:${concurrency}`;
    let ready = this.slotsReady.get(key);
    if (!ready) {
      ready = this.db
        .query(`INSERT INTO integration_slot (integration_id, slot) SELECT $1, g FROM generate_series(0, $2::int - 1) g ON CONFLICT DO NOTHING`, [integrationId, concurrency])
        .then(() => undefined);
      this.slotsReady.set(key, ready);
      ready.catch(() => this.slotsReady.delete(key));
    }
    return ready;
  }

  /** Where attempts wait for a slot, by integration. */
  private readonly gates = new Map<string, SlotGate>();

  private gate(integrationId: string): SlotGate {
    let gate = this.gates.get(integrationId);
    if (!gate) this.gates.set(integrationId, (gate = new SlotGate(SLOT_POLL_MS)));
    return gate;
  }

  /** This process freed `count` slots of the integration (committed): as many waiters ask again. */
  private slotsFreed(integrationId: string, count: number): void {
    this.gates.get(integrationId)?.freed(count);
  }

  /** START_SQL for each integration's share of the cohort (a job asked twice goes in a statement of its own). */
  private async startCohort(reqs: readonly StartRequest[]): Promise<Array<StartRow | Error>> {
    const groups = new Map<string, number[]>();
    const asked = new Set<string>();
    reqs.forEach((r, i) => {
      const again = asked.has(r.jobId) ? `|${i}` : '';
      asked.add(r.jobId);
      const key = `${r.integrationId}|${r.concurrency}|${r.leaseMs}|${r.probe}|${r.version}${again}`;
      const members = groups.get(key);
      if (members) members.push(i);
      else groups.set(key, [i]);
    });
    const out: Array<StartRow | Error> = new Array(reqs.length);
    await Promise.all(
      [...groups.values()].map(async (members) => {
        const { integrationId, concurrency, leaseMs, probe, version } = reqs[members[0]];
        try {
          const rows = await prepared<StartRow>(this.db, 'switchboard_outbound_start', START_SQL, [
            members.map((i) => reqs[i].jobId),
            integrationId,
            concurrency,
            leaseMs,
            this.holder,
            probe,
            version,
          ]);
          members.forEach((i, k) => (out[i] = rows[k]));
        } catch (err) {
          for (const i of members) out[i] = err as Error;
        }
      }),
    );
    return out;
  }

  /**
   * SUCCEED_SQL for a cohort. Should the statement fail, each job is tried on its own, so one
   * job's bad row costs only that job a re-delivery.
   */
  private async succeedCohort(reqs: readonly SucceedRequest[]): Promise<Array<Record<string, unknown> | Error>> {
    const run = async (batch: readonly SucceedRequest[]) => {
      const cohort = batch.map((r) => ({
        job: r.job.id,
        result: r.result.summary,
        integration: r.integration.id,
        provider: r.integration.provider,
        slot: r.slot,
        // The link of the job's own record learns what the provider now holds (echo suppression).
        links: linkRecords(r.result.links.map((l) => (r.job.syncedHashes && l.entityType === r.job.entityType && l.entityId === r.job.entityId ? { ...l, syncedHashes: r.job.syncedHashes } : l))),
      }));
      const rows = await prepared(this.db, 'switchboard_outbound_succeed', SUCCEED_SQL, [
        JSON.stringify(cohort),
        this.holder,
        JSON.stringify(batch.map((r) => logRecord(r.log))),
        batch.map((r) => r.job.id),
        [...new Set(batch.map((r) => r.integration.id))],
      ]);
      const byId = new Map(rows.map((row) => [row.id as string, row]));
      return batch.map((r) => byId.get(r.job.id) ?? new Error(`job ${r.job.id} was not found to complete`));
    };
    let out: Array<Record<string, unknown> | Error>;
    try {
      out = await run(reqs);
    } catch (err) {
      // The database is unavailable: one by one would fail the same way (succeed() retries them).
      if (reqs.length === 1 || isDatabaseUnavailable(err)) return reqs.map(() => err as Error);
      this.log.warn({ err, jobs: reqs.length }, 'completing a cohort of jobs failed; completing them one by one');
      out = await Promise.all(reqs.map((r) => run([r]).then(([row]) => row, (e: unknown) => e as Error)));
    }
    reqs.forEach((r, i) => {
      if (!(out[i] instanceof Error)) this.slotsFreed(r.integration.id, 1);
    });
    await this.wakeNext(reqs.filter((r, i) => r.job.entityId !== null && !(out[i] instanceof Error)).map((r) => r.job.id));
    return out;
  }

  /** JobService.wakeNext after a commit that finished jobs; a failure only delays the next jobs until their own re-check. */
  private async wakeNext(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.services.jobs.wakeNext(jobIds).catch((err) => this.log.warn({ err, jobs: jobIds.length }, 'waking the next jobs of finished jobs failed'));
  }

  /**
   * GCRA over PostgreSQL: each request takes the next free instant of the integration's schedule
   * (1/rate apart, across all processes) and waits until it. Instants are reserved in blocks
   * (RateLease), so one statement serves the requests of a busy process for a while.
   */
  private pacer(integrationId: string, requestsPerSecond: number, reserved: () => void) {
    const intervalMs = paceIntervalMs(requestsPerSecond);
    const key = `${integrationId}:${intervalMs}`;
    let lease = this.leases.get(key);
    if (!lease) {
      lease = new RateLease(intervalMs, async (n) => {
        const [row] = await prepared<{ wait_ms: number }>(this.db, 'switchboard_outbound_reserve_n', RESERVE_SQL, [integrationId, intervalMs, n]);
        return Number(row.wait_ms);
      });
      this.leases.set(key, lease);
    }
    const taken = lease;
    return async () => {
      const wait = await taken.take();
      reserved();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
  }

  /** Rate-limit leases by integration and spacing (a settings change makes a new one). */
  private readonly leases = new Map<string, RateLease>();

  /** Jobs whose attempt (call and record) runs in this process now. */
  private readonly attempting = new Set<string>();

  private async attempt(bossJob: BossJob, loaded: Loaded, started: Started, probe: boolean): Promise<void> {
    this.attempting.add(started.job.id);
    try {
      await this.callAndRecord(bossJob, loaded, started, probe);
    } finally {
      this.attempting.delete(started.job.id);
    }
  }

  private async callAndRecord(bossJob: BossJob, loaded: Loaded, started: Started, probe: boolean): Promise<void> {
    const { integration, settings } = loaded;
    const { job, slot } = started;
    this.events.publish('job.updated', job);

    const labels = { integration: integration.id, provider: integration.provider, operation: job.operation };
    const connector = PROVIDERS[integration.provider].connector!;
    const ctx: CallContext = {
      baseUrl: integration.baseUrl,
      credentials: this.services.integrations.credentialsOf(integration) ?? {},
      timeoutMs: settings.timeoutMs,
      signal: this.stopping.signal,
      refs: ownStep('reference lookup', this.log, async (entityType: CanonicalEntityType, entityId: string): Promise<string | null> => {
        if (started.refIds.includes(entityId)) return started.refs[`${entityType}:${entityId}`] ?? null;
        return (
          (await this.db.query(`SELECT external_id FROM external_ref WHERE integration_id = $1 AND entity_type = $2 AND entity_id = $3`, [integration.id, entityType, entityId]))[0]
            ?.external_id ?? null
        );
      }),
      // Once the call has its first instant, the fair fetch no longer counts it against the rate's room.
      pace: ownStep('rate-limit reservation', this.log, this.pacer(integration.id, settings.requestsPerSecond, () => this.lanes.paced(integration.id, bossJob.id))),
      outbound: this.services.outbound,
      mappings: integration.mappings,
      holdOff: ownStep('rate-limit hold', this.log, async (ms: number) => {
        await this.db.query(HOLD_SQL, [integration.id, Math.round(Math.min(Math.max(ms, 0), MAX_HOLD_MS, slotLeaseMs(settings.timeoutMs) / 2))]);
      }),
    };
    const callStarted = performance.now();
    let outcome: OperationResult | ProviderError;
    try {
      outcome = await connector.operations[job.operation](job.payload, job.providerIdempotencyKey, ctx);
    } catch (err) {
      outcome = err instanceof ProviderError ? err : new ProviderError('client', `connector error: ${(err as Error).message}`, false);
    }
    const durationMs = Math.round(performance.now() - callStarted);
    providerCallDuration.observe(labels, durationMs / 1000);
    this.lanes.get(integration.id).observe(durationMs);

    if (!(outcome instanceof ProviderError)) {
      providerCalls.inc({ ...labels, outcome: 'success' });
      await this.succeed(job, loaded, slot, outcome, durationMs, probe);
      return;
    }
    providerErrors.inc({ ...labels, kind: outcome.kind });
    const healthFailure = outcome.kind === 'timeout' || outcome.kind === 'network' || outcome.kind === 'server';
    const final = !outcome.retryable || job.attempts >= job.maxAttempts;
    providerCalls.inc({ ...labels, outcome: final ? 'failed' : 'retry' });
    const delayMs = outcome.retryAfterMs ?? backoffWithFullJitter(job.attempts, settings.retryBaseDelayMs, settings.retryMaxDelayMs);
    await this.failAttempt(bossJob, job, loaded, slot, outcome, durationMs, final, delayMs);
    // A probe that failed in the gateway told nothing about the provider: the circuit stays
    // half-open and the next probe goes once this one's lease runs out.
    if (probe) {
      if (outcome.kind !== 'gateway') await this.afterProbe(integration, !healthFailure);
    } else if (healthFailure && this.counter(integration.id).record(false)) await this.openCircuit(integration);
  }

  /** The job COMPLETED, its provider links, the log row and the slot released (SUCCEED_SQL). */
  private async succeed(job: IntegrationJob, loaded: Loaded, slot: number, result: OperationResult, durationMs: number, probe: boolean): Promise<void> {
    const { integration } = loaded;
    const log = this.logRow(job, integration, LogStatus.SUCCESS, null, result.exchanges, durationMs);
    // The provider call succeeded: its record must not be lost to a database outage (the job
    // would run again). Retried until the database answers; a retry first looks whether the
    // failed try committed after all.
    const row = await retryWhileUnavailable(
      async (attempt) => (attempt > 0 && (await this.completedRow(job.id))) || this.completions.load({ job, integration, slot, result, log }),
      { signal: this.stopping.signal, onRetry: (err, n) => n === 0 && this.log.warn({ err, jobId: job.id }, 'recording a completed job waits for the database') },
    );
    this.events.publish('log.added', log);
    // From the change's commit (the job was enqueued in its transaction) to the provider's 2xx.
    changeToProvider.observe({ integration: integration.id, provider: integration.provider, source: job.source ?? 'API' }, Math.max(0, (Date.now() - new Date(job.createdAt).getTime()) / 1000));
    // The statement returns what it changed beyond what this process knows (the times).
    const completed = Object.assign(new IntegrationJob(), job, {
      status: JobStatus.COMPLETED,
      result: result.summary,
      lastError: null,
      completedAt: row.completed_at as Date,
      updatedAt: row.updated_at as Date,
    });
    this.events.publish('job.updated', completed);
    if (probe) await this.afterProbe(integration, true);
    else this.counter(integration.id).record(true);
  }

  /** The job's times if it is COMPLETED (a completion whose answer was lost did commit). */
  private async completedRow(jobId: string): Promise<Record<string, unknown> | null> {
    const [row] = (await this.db.query(`SELECT completed_at, updated_at FROM integration_job WHERE id = $1 AND status = 'COMPLETED'`, [jobId])) as Record<string, unknown>[];
    return row ?? null;
  }

  private async failAttempt(
    bossJob: BossJob,
    job: IntegrationJob,
    loaded: Loaded,
    slot: number,
    error: ProviderError,
    durationMs: number,
    final: boolean,
    delayMs: number,
  ): Promise<void> {
    const { integration } = loaded;
    const nextAt = new Date(Date.now() + delayMs);
    const message = error.message.slice(0, 2_000);
    const log = this.logRow(job, integration, LogStatus.FAILED, message, error.exchanges, durationMs, error.httpStatus, error.kind);
    // Recorded even through a database outage (retried; a retry first looks whether the failed
    // try committed after all: the job is no longer PROCESSING then).
    const updated = await retryWhileUnavailable(async (attempt) => {
      if (attempt > 0) {
        const [row] = (await this.db.query(`SELECT * FROM integration_job WHERE id = $1 AND status <> 'PROCESSING'`, [job.id])) as Record<string, unknown>[];
        if (row) return jobFromRow(row);
      }
      return this.db.transaction(async (tx) => {
        const [[row]] = (await tx.query(
          final
            ? `UPDATE integration_job SET status = 'FAILED', last_error = $2, completed_at = now(), updated_at = now() WHERE id = $1 RETURNING *`
            : `UPDATE integration_job SET status = 'RETRYING', last_error = $2, next_attempt_at = $3, updated_at = now() WHERE id = $1 RETURNING *`,
          final ? [job.id, message] : [job.id, message, nextAt],
        )) as [Record<string, unknown>[], number];
        await tx.query(insertLogSql(1), logParams(log));
        await this.releaseSlot(tx, integration.id, slot);
        // A final failure completes the queue entry (the handler returns), which frees the
        // entity's ordering key; the FAILED row is the dead letter, replayable by operators.
        if (!final) await this.retryLater(tx, bossJob, nextAt);
        // RETRYING or FAILED goes out with this commit: an operator's cancel or retry, committed
        // after it, cannot reach subscribers first (EventBus.publishWithCommit).
        const updated = jobFromRow(row);
        await this.events.publishWithCommit(tx, 'job.updated', [updated]);
        return updated;
      });
    }, { signal: this.stopping.signal });
    this.slotsFreed(integration.id, 1);
    this.events.publish('log.added', log);
    this.events.publish('job.updated', updated);
    if (final) await this.wakeNext([job.id]);
  }

  private async abandon(job: IntegrationJob): Promise<void> {
    const [[row]] = (await this.db.query(
      `UPDATE integration_job SET status = 'FAILED', completed_at = now(), updated_at = now(),
         last_error = 'the worker stopped during the last allowed attempt; the outcome at the provider is unknown'
       WHERE id = $1 AND status = 'PROCESSING' RETURNING *`,
      [job.id],
    )) as [Record<string, unknown>[], number];
    if (row) {
      this.events.publish('job.updated', jobFromRow(row));
      await this.wakeNext([job.id]);
    }
  }

  /** Puts the queue entry back (it keeps its place at the head of its entity's order) until `at`. */
  private async retryLater(tx: EntityManager, bossJob: BossJob, at: Date): Promise<void> {
    const db = queueDb(tx);
    await this.boss.fail(OUTBOUND_QUEUE, bossJob, { deferredUntil: at.toISOString() }, { db });
    await this.boss.update(OUTBOUND_QUEUE, undefined, { id: bossJob.id, startAfter: at, db });
  }

  /** Waits without spending an attempt (paused, circuit open, no free slot). */
  private async defer(bossJob: BossJob, jobId: string, delayMs: number, reason: string): Promise<void> {
    await this.db.transaction((tx) => this.postpone(tx, bossJob, jobId, delayMs));
    this.log.debug({ jobId, reason, delayMs: Math.round(delayMs) }, 'outbound job put off');
  }

  /**
   * Puts off a job of an integration that is not ACTIVE, until resumeIntegration wakes it, then
   * reads the integration's status again after that commit. A resume sets ACTIVE, commits, then
   * wakes the put-off entries; so either this read sees ACTIVE (and the entry is woken here), or
   * it ran before the resume committed, and then the entry was put off before that too, and the
   * resume's wake finds it. Without the second look, a job put off while a resume ran slept the
   * whole PAUSE_RECHECK_MS. (A FOR SHARE lock on the integration row did the same before, but
   * then every resume waited for all the deferrals in flight: up to seconds under a backlog.)
   */
  private async deferWhilePaused(bossJob: BossJob, jobId: string, integrationId: string): Promise<void> {
    await this.db.transaction((tx) => this.postpone(tx, bossJob, jobId, PAUSE_RECHECK_MS));
    const [row] = (await this.db.query(`SELECT status FROM integration WHERE id = $1`, [integrationId])) as { status: string }[];
    const resumed = row?.status === IntegrationStatus.ACTIVE;
    if (resumed) await this.boss.update(OUTBOUND_QUEUE, undefined, { id: bossJob.id, startAfter: new Date() });
    this.log.debug({ jobId, reason: 'integration not active', delayMs: resumed ? 0 : PAUSE_RECHECK_MS }, 'outbound job put off');
  }

  /**
   * Puts off a job that an earlier unfinished job of its entity holds back, until that job
   * finishes (its finisher wakes this one: JobService.wakeNext) or ORDER_RECHECK_MS pass. After
   * this commit it looks once more, so a finisher that committed meanwhile is not missed; that
   * look wakes this job only (an earlier job put off on purpose, paused or behind an open
   * circuit, keeps its wait).
   */
  private async waitTurn(bossJob: BossJob, jobId: string): Promise<void> {
    await this.db.transaction((tx) => this.postpone(tx, bossJob, jobId, ORDER_RECHECK_MS));
    const woken = await this.services.jobs.wakeNext([jobId], { onlyThemselves: true });
    this.log.debug({ jobId, reason: 'an earlier job of the same entity is unfinished', woken }, 'outbound job put off');
  }

  private async postpone(tx: EntityManager, bossJob: BossJob, jobId: string, delayMs: number): Promise<void> {
    const at = new Date(Date.now() + delayMs);
    await tx.query(
      `UPDATE integration_job SET next_attempt_at = $2,
         status = CASE WHEN status = 'PROCESSING' THEN (CASE WHEN attempts = 0 THEN 'PENDING' ELSE 'RETRYING' END) ELSE status END
       WHERE id = $1`,
      [jobId, at],
    );
    await this.retryLater(tx, bossJob, at);
  }

  private async releaseSlot(tx: EntityManager, integrationId: string, slot: number): Promise<void> {
    await tx.query(`UPDATE integration_slot SET lease_until = '-infinity', holder = NULL WHERE integration_id = $1 AND slot = $2 AND holder = $3`, [
      integrationId,
      slot,
      this.holder,
    ]);
  }

  private logRow(
    job: IntegrationJob,
    integration: Integration,
    status: LogStatus,
    errorMsg: string | null,
    exchanges: HttpExchange[],
    durationMs: number,
    httpStatus: number | null = exchanges.at(-1)?.status ?? null,
    errorKind: string | null = null,
  ): IntegrationLog {
    return Object.assign(new IntegrationLog(), {
      id: newId(),
      service: logService(integration.provider),
      eventType: job.operation,
      direction: Direction.OUTBOUND,
      status,
      timestamp: new Date(),
      errorMsg,
      correlationId: job.correlationId,
      integrationId: integration.id,
      jobId: job.id,
      webhookEventId: null,
      httpStatus,
      durationMs,
      attempt: job.attempts,
      request: exchanges.map((e) => ({ method: e.method, path: e.path, body: e.request })),
      response: exchanges.map((e) => ({ status: e.status, durationMs: e.durationMs, body: e.response })),
      errorKind,
    });
  }

  private async openCircuit(integration: Integration): Promise<void> {
    const opened = (await this.db.query(
      `UPDATE integration SET circuit = 'OPEN', circuit_opened_at = now(), circuit_probe_until = NULL WHERE id = $1 AND circuit = 'CLOSED' RETURNING id`,
      [integration.id],
    )) as [unknown[], number];
    if (opened[0].length) this.log.warn({ integrationId: integration.id, provider: integration.provider }, 'circuit opened');
  }

  private async afterProbe(integration: Integration, healthy: boolean): Promise<void> {
    if (healthy) {
      await this.db.query(`UPDATE integration SET circuit = 'CLOSED', circuit_opened_at = NULL, circuit_probe_until = NULL WHERE id = $1`, [integration.id]);
      this.counter(integration.id).reset();
      this.log.info({ integrationId: integration.id }, 'circuit closed after a successful probe');
    } else {
      await this.db.query(`UPDATE integration SET circuit = 'OPEN', circuit_opened_at = now(), circuit_probe_until = NULL WHERE id = $1`, [integration.id]);
    }
  }

  /**
   * Shared state per integration, read from the database at scrape time: jobs waiting and why,
   * the oldest waiting job, slots in use against the cap, the circuit. Then this process's own:
   * worker places held, in-flight time against the budget, share of the worker's time.
   */
  private async refreshGauges(): Promise<void> {
    const rows = (await this.db.query(
      `WITH open AS (
         SELECT j.integration_id, j.status, j.next_attempt_at, j.created_at,
                j.entity_id IS NOT NULL AND j.seq > min(j.seq) OVER (PARTITION BY j.integration_id, j.entity_type, j.entity_id) AS behind
         FROM integration_job j WHERE j.status IN ('PENDING', 'RETRYING', 'PROCESSING')
       ), slots AS (
         SELECT integration_id, count(*)::int AS n FROM integration_slot WHERE lease_until > clock_timestamp() GROUP BY integration_id
       ), settings AS (
         SELECT i.id, COALESCE((i.settings->>'concurrency')::int, $1::int) AS concurrency FROM integration i
       ), reasons AS (
         SELECT o.integration_id,
                CASE WHEN i.status <> 'ACTIVE' THEN 'paused'
                     WHEN i.circuit <> 'CLOSED' THEN 'circuit_open'
                     WHEN o.status = 'RETRYING' AND o.next_attempt_at > now() THEN 'retry_backoff'
                     WHEN o.behind THEN 'entity_order'
                     WHEN COALESCE(s.n, 0) >= c.concurrency THEN 'concurrency_cap'
                     WHEN t.tat > clock_timestamp() + $2::int * interval '1 ms' THEN 'rate_limit'
                     ELSE 'worker' END AS reason,
                count(*)::int AS n, min(o.created_at) AS oldest
         FROM open o JOIN integration i ON i.id = o.integration_id JOIN settings c ON c.id = i.id
         LEFT JOIN slots s ON s.integration_id = i.id LEFT JOIN integration_throttle t ON t.integration_id = i.id
         WHERE o.status <> 'PROCESSING'
         GROUP BY 1, 2
       )
       SELECT i.id, i.provider, i.circuit, c.concurrency, COALESCE(s.n, 0) AS slots,
              COALESCE((SELECT jsonb_object_agg(r.reason, r.n) FROM reasons r WHERE r.integration_id = i.id), '{}') AS reasons,
              COALESCE((SELECT EXTRACT(EPOCH FROM now() - min(r.oldest)) FROM reasons r WHERE r.integration_id = i.id), 0)::float8 AS oldest
       FROM integration i JOIN settings c ON c.id = i.id LEFT JOIN slots s ON s.integration_id = i.id`,
      [defaultSettings(0).concurrency, RATE_LOOKAHEAD_MS],
    )) as Array<{ id: string; provider: string; circuit: string; concurrency: number; slots: number; reasons: Record<string, number>; oldest: number }>;
    for (const r of rows) {
      let waiting = 0;
      for (const reason of WAIT_REASONS) {
        integrationJobsWaiting.set({ integration: r.id, reason }, r.reasons[reason] ?? 0);
        waiting += r.reasons[reason] ?? 0;
      }
      queueDepth.set({ integration: r.id }, waiting);
      queueOldestAge.set({ integration: r.id }, r.oldest);
      integrationSlotsInUse.set({ integration: r.id }, r.slots);
      integrationConcurrency.set({ integration: r.id }, r.concurrency);
      circuitState.set({ integration: r.id, provider: r.provider }, r.circuit === 'OPEN' ? 2 : r.circuit === 'HALF_OPEN' ? 1 : 0);
    }
    const now = performance.now();
    const shares = this.lanes.shares(this.options.concurrency);
    for (const [id, lane] of this.lanes.entries()) {
      const settings = this.settingsOf(id);
      workerPlaces.set({ integration: id, state: 'running' }, lane.running);
      workerPlaces.set({ integration: id, state: 'ready' }, lane.ready);
      inFlightSeconds.set({ integration: id }, lane.charge(now, settings.timeoutMs) / 1000);
      inFlightBudget.set({ integration: id }, settings.inFlightBudgetMs / 1000);
      if (lane.expectedMs !== null) expectedCallSeconds.set({ integration: id }, lane.expectedMs / 1000);
      workerTimeShare.set({ integration: id }, shares.get(id) ?? 0);
    }
  }

  /** An integration's settings as this process last loaded them, or the defaults before it has. */
  private settingsOf(integrationId: string): IntegrationSettings {
    return this.known.get(integrationId)?.settings ?? DEFAULT_SETTINGS;
  }

  /**
   * The fair fetch (src/jobs/fair-fetch.ts): up to `limit` entries shared out between the
   * integrations with waiting work, none beyond what an integration's concurrency cap, its
   * in-flight budget in this process, its circuit and its rate limit let it start now.
   */
  private async fetchFair(limit: number): Promise<BossJob[]> {
    const now = performance.now();
    const ids: string[] = [];
    const rooms: Array<number | null> = [];
    const held: number[] = [];
    const unpaced: number[] = [];
    for (const [id, lane] of this.lanes.entries()) {
      // An integration this process holds nothing of and has not timed is left to the fetch's default.
      if (!isUuid(id) || (lane.entries.size === 0 && lane.expectedMs === null)) continue;
      const settings = this.known.get(id)?.settings;
      ids.push(id);
      rooms.push(settings ? lane.room(now, settings.inFlightBudgetMs, settings.timeoutMs) : null);
      held.push(lane.entries.size);
      unpaced.push(lane.unpaced);
    }
    const mine = [...this.running.keys(), ...this.toComplete.map((j) => j.id), ...this.completing];
    this.fetchSql ??= outboundFetchSql(this.table);
    return prepared<BossJob>(this.db, `switchboard_outbound_fetch_${this.table}`, this.fetchSql, [
      OUTBOUND_QUEUE,
      limit,
      ids,
      rooms,
      held,
      unpaced,
      mine,
      this.options.circuitCooldownMs,
      RATE_LOOKAHEAD_MS,
      PROVIDER_RPS,
      FETCH_DEFAULTS,
    ]);
  }

  private fetchSql: string | null = null;
}
