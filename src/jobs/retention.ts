import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import { retentionDeleted } from '../observability/metrics.js';

/** The pg-boss queue (and schedule) of the retention sweep. */
export const RETENTION_QUEUE = 'maintenance-retention';

/** Rows deleted per statement: short transactions, no long locks on busy tables. */
const BATCH = 5_000;

/**
 * What the sweep deletes once it is older than RETENTION_DAYS. Settled records only: FAILED jobs
 * and FAILED or waiting webhook events stay until an operator replays them, whatever their age.
 */
const SWEEPS: Array<{ table: string; keep: 'operational' | 'audit' | 'usage'; sql: string }> = [
  {
    table: 'webhook_event',
    keep: 'operational',
    sql: `DELETE FROM webhook_event WHERE id IN (
            SELECT id FROM webhook_event WHERE status IN ('PROCESSED', 'IGNORED') AND received_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    table: 'integration_log',
    keep: 'operational',
    sql: `DELETE FROM integration_log WHERE id IN (
            SELECT id FROM integration_log WHERE timestamp < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    table: 'integration_job',
    keep: 'operational',
    sql: `DELETE FROM integration_job WHERE id IN (
            SELECT id FROM integration_job WHERE status IN ('COMPLETED', 'CANCELLED') AND updated_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    table: 'audit_log',
    keep: 'audit',
    sql: `DELETE FROM audit_log WHERE id IN (
            SELECT id FROM audit_log WHERE "timestamp" < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    // Per-minute request counts of rate-limited keys: only the last two minutes are ever read.
    table: 'api_key_usage',
    keep: 'usage',
    sql: `DELETE FROM api_key_usage WHERE ctid IN (SELECT ctid FROM api_key_usage WHERE minute < now() - interval '10 minutes' LIMIT ${BATCH}) AND $1::int IS NOT NULL`,
  },
];

export interface RetentionDays {
  /** Jobs, logs and events (RETENTION_DAYS); 0 keeps them. */
  operational: number;
  /** The audit trail (AUDIT_RETENTION_DAYS); 0 keeps it. */
  audit: number;
}

/** Deletes settled rows older than their retention, in batches; returns the count per table. */
export async function sweepRetention(db: DataSource, days: RetentionDays): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  for (const { table, keep, sql } of SWEEPS) {
    const olderThan = keep === 'usage' ? 0 : days[keep];
    if (keep !== 'usage' && olderThan <= 0) continue;
    deleted[table] = 0;
    for (;;) {
      const [, count] = (await db.query(sql, [olderThan])) as [unknown[], number];
      deleted[table] += count;
      retentionDeleted.inc({ table }, count);
      if (count < BATCH) break;
    }
  }
  return deleted;
}

/**
 * Worker roles: a sweep every 15 minutes through pg-boss's cron (one process runs each
 * occurrence, however many workers there are). It always runs: the keys' minute counters are
 * swept whatever the retention settings say.
 */
export async function scheduleRetention(db: DataSource, boss: PgBoss, log: Logger, days: RetentionDays): Promise<() => Promise<void>> {
  await boss.createQueue(RETENTION_QUEUE, { policy: 'singleton', retryLimit: 2 });
  await boss.schedule(RETENTION_QUEUE, '*/15 * * * *', { ...days });
  const workerId = await boss.work(RETENTION_QUEUE, async () => {
    const deleted = await sweepRetention(db, days);
    if (Object.values(deleted).some((n) => n > 0)) log.info({ deleted, days }, 'retention: old settled rows deleted');
  });
  return async () => {
    await boss.offWork(RETENTION_QUEUE, { id: workerId, wait: true });
  };
}
