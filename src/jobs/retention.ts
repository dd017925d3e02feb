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
const SWEEPS: Array<{ table: string; sql: string }> = [
  {
    table: 'webhook_event',
    sql: `DELETE FROM webhook_event WHERE id IN (
            SELECT id FROM webhook_event WHERE status IN ('PROCESSED', 'IGNORED') AND received_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    table: 'integration_log',
    sql: `DELETE FROM integration_log WHERE id IN (
            SELECT id FROM integration_log WHERE timestamp < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
  {
    table: 'integration_job',
    sql: `DELETE FROM integration_job WHERE id IN (
            SELECT id FROM integration_job WHERE status IN ('COMPLETED', 'CANCELLED') AND updated_at < now() - make_interval(days => $1) LIMIT ${BATCH})`,
  },
];

/** Deletes settled rows older than `days`, in batches; returns the count per table. */
export async function sweepRetention(db: DataSource, days: number): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  for (const { table, sql } of SWEEPS) {
    deleted[table] = 0;
    for (;;) {
      const [, count] = (await db.query(sql, [days])) as [unknown[], number];
      deleted[table] += count;
      retentionDeleted.inc({ table }, count);
      if (count < BATCH) break;
    }
  }
  return deleted;
}

/**
 * Worker roles: a sweep every 15 minutes through pg-boss's cron (one process runs each
 * occurrence, however many workers there are). `days` 0 keeps everything.
 */
export async function scheduleRetention(db: DataSource, boss: PgBoss, log: Logger, days: number): Promise<() => Promise<void>> {
  await boss.createQueue(RETENTION_QUEUE, { policy: 'singleton', retryLimit: 2 });
  if (days <= 0) {
    await boss.unschedule(RETENTION_QUEUE).catch(() => undefined);
    return async () => {};
  }
  await boss.schedule(RETENTION_QUEUE, '*/15 * * * *', { days });
  const workerId = await boss.work(RETENTION_QUEUE, async () => {
    const deleted = await sweepRetention(db, days);
    if (Object.values(deleted).some((n) => n > 0)) log.info({ deleted, days }, 'retention: old settled rows deleted');
  });
  return async () => {
    await boss.offWork(RETENTION_QUEUE, { id: workerId, wait: true });
  };
}
