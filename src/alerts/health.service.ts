import type { DataSource } from 'typeorm';
import { badInput } from '../domain/shared/errors.js';

export interface IntegrationHealthRow {
  windowSeconds: number;
  attempts: number;
  successRate: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  errorsByKind: Array<{ kind: string; count: number }>;
  queueDepth: number;
  oldestWaitingSeconds: number | null;
  webhookLagSeconds: number;
  lastSyncRunId: string | null;
}

export interface ThroughputRow {
  at: Date;
  jobsCompleted: number;
  jobsFailed: number;
  webhookEvents: number;
}

export const MAX_HEALTH_WINDOW_SECONDS = 7 * 24 * 3600;
/** The most buckets one throughput query returns (its price in the query cost, too). */
export const MAX_THROUGHPUT_BUCKETS = 1_000;

/**
 * Outbound attempts of jobs (not sync reads) in the window: the rows integration_log_outbound_time_idx
 * holds, so each lateral read below is an index range scan of one integration's window.
 */
const ATTEMPTS_IN_WINDOW = `l.integration_id = i.id AND l.direction = 'OUTBOUND' AND l.job_id IS NOT NULL AND l."timestamp" >= now() - $2::int * interval '1 second'`;

/** Every figure of IntegrationHealth for many integrations, in one statement. $1 ids, $2 window seconds. */
const HEALTH_SQL = `
  SELECT i.id, a.attempts, a.succeeded, a.p50, a.p95, COALESCE(e.kinds, '[]'::jsonb) AS kinds, q.depth, q.oldest,
         COALESCE(w.lag, 0)::float8 AS webhook_lag, s.id AS last_sync_run_id
  FROM unnest($1::uuid[]) AS i(id)
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS attempts, count(*) FILTER (WHERE l.status = 'SUCCESS')::int AS succeeded,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY l.duration_ms)::float8 AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY l.duration_ms)::float8 AS p95
    FROM integration_log l WHERE ${ATTEMPTS_IN_WINDOW}) a
  CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('kind', k.kind, 'count', k.n) ORDER BY k.n DESC, k.kind) AS kinds
    FROM (SELECT COALESCE(l.error_kind, 'unknown') AS kind, count(*)::int AS n FROM integration_log l
          WHERE ${ATTEMPTS_IN_WINDOW} AND l.status = 'FAILED' GROUP BY 1) k) e
  CROSS JOIN LATERAL (
    SELECT count(*)::int AS depth, EXTRACT(EPOCH FROM now() - min(j.created_at))::float8 AS oldest
    FROM integration_job j WHERE j.integration_id = i.id AND j.status IN ('PENDING', 'RETRYING')) q
  CROSS JOIN LATERAL (
    SELECT EXTRACT(EPOCH FROM now() - min(w.received_at))::float8 AS lag
    FROM webhook_event w WHERE w.integration_id = i.id AND w.status = 'RECEIVED') w
  LEFT JOIN LATERAL (SELECT r.id FROM sync_run r WHERE r.integration_id = i.id ORDER BY r.id DESC LIMIT 1) s ON true`;

/**
 * Jobs finished and webhook events received per bucket, from `now() - since` (rounded down to a
 * bucket) to now; empty buckets are zeros. $1 since seconds, $2 bucket seconds, $3 integration or null.
 */
const THROUGHPUT_SQL = `
  WITH b AS (
    SELECT generate_series(to_timestamp(floor(EXTRACT(EPOCH FROM now() - $1::int * interval '1 second') / $2::int) * $2::int), now(), $2::int * interval '1 second') AS at
  ), jobs AS (
    SELECT to_timestamp(floor(EXTRACT(EPOCH FROM j.completed_at) / $2::int) * $2::int) AS at,
           count(*) FILTER (WHERE j.status = 'COMPLETED')::int AS completed, count(*) FILTER (WHERE j.status = 'FAILED')::int AS failed
    FROM integration_job j
    WHERE j.completed_at IS NOT NULL AND j.completed_at >= (SELECT min(at) FROM b) AND ($3::uuid IS NULL OR j.integration_id = $3::uuid)
    GROUP BY 1
  ), hooks AS (
    SELECT to_timestamp(floor(EXTRACT(EPOCH FROM w.received_at) / $2::int) * $2::int) AS at, count(*)::int AS n
    FROM webhook_event w WHERE w.received_at >= (SELECT min(at) FROM b) AND ($3::uuid IS NULL OR w.integration_id = $3::uuid)
    GROUP BY 1
  )
  SELECT b.at, COALESCE(jobs.completed, 0) AS completed, COALESCE(jobs.failed, 0) AS failed, COALESCE(hooks.n, 0) AS webhooks
  FROM b LEFT JOIN jobs USING (at) LEFT JOIN hooks USING (at) ORDER BY b.at`;

/** The console overview's figures: cheap, indexed reads of what the engine already records. */
export class HealthService {
  constructor(private readonly db: DataSource) {}

  static checkWindow(windowSeconds: number, field = 'windowSeconds'): number {
    if (!Number.isInteger(windowSeconds) || windowSeconds <= 0 || windowSeconds > MAX_HEALTH_WINDOW_SECONDS) {
      throw badInput(field, `${field} must be a whole number above 0 and at most ${MAX_HEALTH_WINDOW_SECONDS} (7 days)`);
    }
    return windowSeconds;
  }

  async healthOf(integrationIds: readonly string[], windowSeconds: number): Promise<Map<string, IntegrationHealthRow>> {
    const rows = (await this.db.query(HEALTH_SQL, [[...integrationIds], windowSeconds])) as Array<{
      id: string; attempts: number; succeeded: number; p50: number | null; p95: number | null; kinds: Array<{ kind: string; count: number }>;
      depth: number; oldest: number | null; webhook_lag: number; last_sync_run_id: string | null;
    }>;
    return new Map(
      rows.map((r) => [
        r.id,
        {
          windowSeconds,
          attempts: r.attempts,
          successRate: r.attempts > 0 ? r.succeeded / r.attempts : null,
          p50LatencyMs: r.p50,
          p95LatencyMs: r.p95,
          errorsByKind: r.kinds,
          queueDepth: r.depth,
          oldestWaitingSeconds: r.oldest === null ? null : Math.max(0, r.oldest),
          webhookLagSeconds: Math.max(0, r.webhook_lag),
          lastSyncRunId: r.last_sync_run_id,
        },
      ]),
    );
  }

  async throughput(sinceSeconds: number, bucketSeconds: number, integrationId: string | null): Promise<ThroughputRow[]> {
    HealthService.checkWindow(sinceSeconds, 'sinceSeconds');
    if (!Number.isInteger(bucketSeconds) || bucketSeconds <= 0 || bucketSeconds > 86_400) throw badInput('bucketSeconds', 'bucketSeconds must be a whole number from 1 to 86400');
    // One more bucket than the quotient when `now() - since` falls inside a bucket.
    if (Math.ceil(sinceSeconds / bucketSeconds) + 1 > MAX_THROUGHPUT_BUCKETS) {
      throw badInput('bucketSeconds', `at most ${MAX_THROUGHPUT_BUCKETS} buckets: bucketSeconds must be at least sinceSeconds / ${MAX_THROUGHPUT_BUCKETS - 1}`);
    }
    const rows = (await this.db.query(THROUGHPUT_SQL, [sinceSeconds, bucketSeconds, integrationId])) as Array<{ at: Date; completed: number; failed: number; webhooks: number }>;
    return rows.map((r) => ({ at: r.at, jobsCompleted: r.completed, jobsFailed: r.failed, webhookEvents: r.webhooks }));
  }
}
