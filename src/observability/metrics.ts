import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { deadlineIn, withinDeadline } from '../db/deadline.js';

/** One registry per process; every metric Switchboard exports is declared here. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });

export const httpRequests = new Counter({
  name: 'switchboard_http_requests_total',
  help: 'HTTP requests by route, GraphQL operation name and status code',
  labelNames: ['route', 'operation', 'status'] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: 'switchboard_http_request_duration_seconds',
  help: 'HTTP request duration by route and GraphQL operation name',
  labelNames: ['route', 'operation'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const dbStatements = new Counter({
  name: 'switchboard_db_statements_total',
  help: 'SQL statements sent through the canonical data source',
  registers: [registry],
});

export const graphqlErrors = new Counter({
  name: 'switchboard_graphql_errors_total',
  help: 'GraphQL errors returned to clients, by extensions.code',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const providerCalls = new Counter({
  name: 'switchboard_provider_calls_total',
  help: 'Outbound provider call attempts by integration, operation and outcome (success, retry, failed)',
  labelNames: ['integration', 'provider', 'operation', 'outcome'] as const,
  registers: [registry],
});

export const providerErrors = new Counter({
  name: 'switchboard_provider_errors_total',
  help: 'Outbound provider errors by kind: timeout, rate_limited (429), client (4xx), auth, server (5xx), network, circuit_open',
  labelNames: ['integration', 'provider', 'operation', 'kind'] as const,
  registers: [registry],
});

/** OAuth access tokens a connector fetched (Salesforce): `first` per process and credentials, `expired` after INVALID_SESSION_ID. */
export const providerTokenRequests = new Counter({
  name: 'switchboard_provider_token_requests_total',
  help: 'OAuth access tokens fetched for outbound calls, by provider, why (first, expired) and outcome (success, failed)',
  labelNames: ['provider', 'reason', 'outcome'] as const,
  registers: [registry],
});

export const providerCallDuration = new Histogram({
  name: 'switchboard_provider_call_duration_seconds',
  help: 'Outbound provider call attempt duration',
  labelNames: ['integration', 'provider', 'operation'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Filled at scrape time from the database, so every process reports the shared truth. */
export const queueDepth = new Gauge({
  name: 'switchboard_queue_depth',
  help: 'Outbound jobs waiting (PENDING or RETRYING) per integration',
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const queueOldestAge = new Gauge({
  name: 'switchboard_queue_oldest_age_seconds',
  help: 'Age of the oldest waiting outbound job per integration',
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const circuitState = new Gauge({
  name: 'switchboard_circuit_state',
  help: 'Circuit breaker per integration: 0 closed, 1 half-open, 2 open',
  labelNames: ['integration', 'provider'] as const,
  registers: [registry],
});

/**
 * Why outbound jobs wait, per integration (filled at scrape time from the database): `worker`
 * (nothing shared holds it back: it waits for a worker, a free place or room in its in-flight
 * budget; see switchboard_worker_places and switchboard_integration_in_flight_seconds), `concurrency_cap` (every slot of the
 * integration is in use), `rate_limit` (its rate-limit schedule is booked ahead), `retry_backoff`
 * (a failed attempt's backoff or Retry-After), `entity_order` (an earlier job of the same record
 * is unfinished), `paused`, `circuit_open`.
 */
export const integrationJobsWaiting = new Gauge({
  name: 'switchboard_integration_jobs_waiting',
  help: 'Outbound jobs waiting per integration, by what they wait for: worker (a free place or room in its in-flight budget), concurrency_cap, rate_limit, retry_backoff, entity_order, paused, circuit_open',
  labelNames: ['integration', 'reason'] as const,
  registers: [registry],
});

export const integrationSlotsInUse = new Gauge({
  name: 'switchboard_integration_slots_in_use',
  help: 'Concurrency slots of the integration leased by calls in flight, across all worker processes (read at scrape time)',
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const integrationConcurrency = new Gauge({
  name: 'switchboard_integration_concurrency',
  help: "The integration's concurrency cap: how many slots it has (read at scrape time)",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const workerPlaces = new Gauge({
  name: 'switchboard_worker_places',
  help: "This process's outbound worker places held by each integration's jobs: running (holding a place) or ready (fetched, waiting for a place)",
  labelNames: ['integration', 'state'] as const,
  registers: [registry],
});

export const workerPlacesTotal = new Gauge({
  name: 'switchboard_worker_places_total',
  help: 'Outbound worker places of this process (WORKER_CONCURRENCY)',
  registers: [registry],
});

export const slotWait = new Histogram({
  name: 'switchboard_integration_slot_wait_seconds',
  help: 'Time from when an outbound job was due (enqueued, or its retry time) until its attempt started, holding a worker place and a concurrency slot',
  labelNames: ['integration'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const workerBusy = new Counter({
  name: 'switchboard_worker_busy_seconds_total',
  help: "Worker place time held by each integration's outbound jobs in this process",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const workerTimeShare = new Gauge({
  name: 'switchboard_worker_time_share',
  help: "Each integration's share of this process's outbound worker time over the last minute: its place time / (WORKER_CONCURRENCY x the minute); the rest is idle",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const inFlightSeconds = new Gauge({
  name: 'switchboard_integration_in_flight_seconds',
  help: "Worker time the integration's jobs in this process hold, as its in-flight budget counts it (each its expected call duration, or its time so far if longer)",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const inFlightBudget = new Gauge({
  name: 'switchboard_integration_in_flight_budget_seconds',
  help: "The integration's in-flight budget (inFlightBudgetMs) in one worker process",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const expectedCallSeconds = new Gauge({
  name: 'switchboard_integration_expected_call_seconds',
  help: "How long the integration's calls take in this process (exponential average), as its in-flight budget counts them",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const webhookRequests = new Counter({
  name: 'switchboard_webhook_requests_total',
  help: 'Webhook requests by integration and outcome (accepted, duplicate, rejected)',
  labelNames: ['integration', 'provider', 'outcome'] as const,
  registers: [registry],
});

export const webhookRejected = new Counter({
  name: 'switchboard_webhook_rejected_total',
  help: 'Rejected webhook requests by reason (missing_signature, bad_signature, stale_timestamp, no_secret, bad_payload)',
  labelNames: ['integration', 'provider', 'reason'] as const,
  registers: [registry],
});

export const webhookDuplicates = new Counter({
  name: 'switchboard_webhook_duplicates_total',
  help: 'Webhook events received again (already stored): answered 2xx, nothing stored',
  labelNames: ['integration', 'provider'] as const,
  registers: [registry],
});

export const webhookProcessed = new Counter({
  name: 'switchboard_webhook_processed_total',
  help: 'Webhook events processed, by outcome (PROCESSED, IGNORED, FAILED, retry) and event type',
  labelNames: ['integration', 'provider', 'outcome'] as const,
  registers: [registry],
});

export const webhookProcessingSeconds = new Counter({
  name: 'switchboard_webhook_processing_seconds_total',
  help: "Time this process spent applying each integration's webhook events",
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const webhookJobsHeld = new Gauge({
  name: 'switchboard_webhook_jobs_held',
  help: "Webhook processing jobs (each a group of one integration's events) this process holds, per integration",
  labelNames: ['integration'] as const,
  registers: [registry],
});

/** Filled at scrape time from the database. */
export const webhookLag = new Gauge({
  name: 'switchboard_webhook_processing_lag_seconds',
  help: 'Age of the oldest stored webhook event not yet processed, per integration (0 when none waits)',
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const webhookWaiting = new Gauge({
  name: 'switchboard_webhook_waiting_events',
  help: 'Stored webhook events not yet processed, per integration',
  labelNames: ['integration'] as const,
  registers: [registry],
});

export const wsConnections = new Gauge({
  name: 'switchboard_ws_connections',
  help: 'Open GraphQL WebSocket connections on this process',
  registers: [registry],
});

export const wsClosed = new Counter({
  name: 'switchboard_ws_closed_by_server_total',
  help: 'WebSockets the server closed, by reason: unauthorized (4401), forbidden (4403), revoked (4403), too_many (4429), slow_consumer (4413)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const subscriptionEvents = new Counter({
  name: 'switchboard_subscription_events_total',
  help: 'Events handed to subscriptions on this process (after server-side filters)',
  registers: [registry],
});

export const retentionDeleted = new Counter({
  name: 'switchboard_retention_deleted_total',
  help: 'Settled rows deleted by the retention sweep (RETENTION_DAYS), by table',
  labelNames: ['table'] as const,
  registers: [registry],
});

let scrapeSources: Array<() => Promise<void>> = [];

/** Registers a refresh that runs before each scrape (database-backed gauges). */
export function onScrape(refresh: () => Promise<void>): () => void {
  scrapeSources.push(refresh);
  return () => {
    scrapeSources = scrapeSources.filter((r) => r !== refresh);
  };
}

/** The database reads a scrape may make, in all (the gauges they fill keep their last values past it). */
const SCRAPE_DB_BUDGET_MS = 2_000;

export async function collectMetrics(): Promise<string> {
  // While the database is known to be unavailable its gauges are not read (they keep their
  // last values; switchboard_db_available says why): a scrape never hangs on the database.
  if ([...dbState.monitors].every((m) => m.available)) {
    const deadline = deadlineIn(SCRAPE_DB_BUDGET_MS);
    await Promise.all(scrapeSources.map((r) => withinDeadline(r(), deadline).catch(() => undefined)));
  }
  return registry.metrics();
}

export const orphansRequeued = new Counter({
  name: 'switchboard_requeued_total',
  help: 'Unfinished outbound jobs and waiting webhook events whose queue entry was gone and that the orphan sweep queued again, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/**
 * Database availability (src/db/availability.ts, ADR 0010). The gauges are computed when
 * scraped, from what the process already knows: a scrape never waits on the database for them.
 */
export const dbState = {
  /** Per monitor: is the database answering; when the last incident started and ended (epoch ms). */
  monitors: new Set<{ available: boolean; lastIncident: { start: number; end: number | null } | null }>(),
  /** Per connection pool: when a statement last succeeded on it (epoch ms). */
  lastSuccess: new Map<string, number>(),
};

export const dbAvailable = new Gauge({
  name: 'switchboard_db_available',
  help: 'Whether the database answers (1) or not (0), as this process sees it',
  registers: [registry],
  collect() {
    this.set([...dbState.monitors].every((m) => m.available) ? 1 : 0);
  },
});

export const dbLastSuccessAge = new Gauge({
  name: 'switchboard_db_last_success_age_seconds',
  help: 'Seconds since a statement last succeeded, per connection pool (data_source, prepared, queue, listen, webhook_writer)',
  labelNames: ['pool'] as const,
  registers: [registry],
  collect() {
    const now = Date.now();
    for (const [pool, at] of dbState.lastSuccess) this.set({ pool }, (now - at) / 1000);
  },
});

export const dbConnectionsLost = new Counter({
  name: 'switchboard_db_connections_lost_total',
  help: 'Database connections that broke (closed by the server, reset, timed out), per pool',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const dbReconnects = new Counter({
  name: 'switchboard_db_reconnects_total',
  help: 'Connections opened again to replace ones that broke, per pool (a LISTEN connection: each time it listens again)',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const dbTimeouts = new Counter({
  name: 'switchboard_db_timeouts_total',
  help: 'Statements and connection waits given up on this side because the database did not answer in time, per pool',
  labelNames: ['pool'] as const,
  registers: [registry],
});

export const dbOutages = new Counter({
  name: 'switchboard_db_outages_total',
  help: 'Times the database became unavailable (an incident starts when a failed statement is confirmed by a failed probe)',
  registers: [registry],
});

export const dbLastOutageSeconds = new Gauge({
  name: 'switchboard_db_last_outage_seconds',
  help: 'How long the last database incident lasted, from its first failed statement to the first answer after it; while one lasts, how long so far',
  registers: [registry],
  collect() {
    const last = [...dbState.monitors].map((m) => m.lastIncident).filter((i) => i !== null).sort((a, b) => b.start - a.start)[0];
    this.set(last ? ((last.end ?? Date.now()) - last.start) / 1000 : 0);
  },
});

export const dbLastOutageStart = new Gauge({
  name: 'switchboard_db_last_outage_start_seconds',
  help: 'When the last database incident started (Unix time), 0 when there was none',
  registers: [registry],
  collect() {
    const last = [...dbState.monitors].map((m) => m.lastIncident).filter((i) => i !== null).sort((a, b) => b.start - a.start)[0];
    this.set(last ? last.start / 1000 : 0);
  },
});

export const embeddedRestarts = new Counter({
  name: 'switchboard_embedded_postgres_restarts_total',
  help: 'Restarts of the embedded PostgreSQL after it stopped on its own, by outcome (restarted, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const syncRecords = new Counter({
  name: 'switchboard_sync_records_total',
  help: 'Records read by sync runs, by integration, resource and outcome (seen, changed, deleted)',
  labelNames: ['integration', 'resource', 'outcome'] as const,
  registers: [registry],
});

export const syncPages = new Counter({
  name: 'switchboard_sync_pages_total',
  help: 'Pages read and committed by sync runs, by integration and resource',
  labelNames: ['integration', 'resource'] as const,
  registers: [registry],
});

export const syncRunDuration = new Histogram({
  name: 'switchboard_sync_run_duration_seconds',
  help: 'Sync run duration from start to end, by provider, resource, mode and final status',
  labelNames: ['provider', 'resource', 'mode', 'status'] as const,
  buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
  registers: [registry],
});

export const syncLag = new Histogram({
  name: 'switchboard_sync_lag_seconds',
  help: 'From a change at the provider (its modification or event time) to its arrival in the canonical model by polling, for records that changed something',
  labelNames: ['integration', 'resource'] as const,
  buckets: [1, 5, 15, 30, 60, 300, 900, 3600, 21600, 86400],
  registers: [registry],
});

export const syncSuppressed = new Counter({
  name: 'switchboard_sync_suppressed_total',
  help: 'Changes not sent on or not applied, by integration and kind: echo (a provider reported back what the gateway last wrote or read there), noop (a job whose mapped fields the provider already holds)',
  labelNames: ['integration', 'kind'] as const,
  registers: [registry],
});

export const changeToProvider = new Histogram({
  name: 'switchboard_change_to_provider_seconds',
  help: "From the commit of a change to the target provider's 2xx for the job it caused, by target integration, provider and the change's source",
  labelNames: ['integration', 'provider', 'source'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
  registers: [registry],
});

export const alertsFiring = new Gauge({
  name: 'switchboard_alerts_firing',
  help: 'Alerts FIRING now, by rule kind (read from the database at scrape time)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const alertTransitions = new Counter({
  name: 'switchboard_alert_transitions_total',
  help: 'Alerts fired and resolved by the evaluator of this process, by rule kind and status',
  labelNames: ['kind', 'status'] as const,
  registers: [registry],
});

export const alertEvaluations = new Counter({
  name: 'switchboard_alert_evaluations_total',
  help: 'Rounds of alert rule evaluation this process made (one worker evaluates at a time)',
  registers: [registry],
});
