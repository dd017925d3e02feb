import type { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { orphansRequeued } from '../observability/metrics.js';
import type { WebhookService } from '../webhooks/webhook.service.js';
import type { JobService } from './job.service.js';

/** The pg-boss queue (and schedule) of the orphan sweep. */
export const ORPHAN_QUEUE = 'maintenance-orphans';

/**
 * Worker roles: JobService.requeueOrphans, JobService.groupUngrouped and WebhookService.sweepWaiting soon after start
 * (pg-boss may have dropped waiting entries of a gateway that was stopped for long) and then
 * every 5 minutes through pg-boss's cron; each sweep is a job of the singleton queue
 * ORPHAN_QUEUE, so one process runs it at a time. A failed sweep is retried by pg-boss and
 * logged; the next one tries again.
 */
export async function scheduleOrphanSweep(jobs: JobService, webhooks: WebhookService, boss: PgBoss, log: Logger): Promise<() => Promise<void>> {
  const sweep = async () => {
    for (;;) {
      const requeued = await jobs.requeueOrphans();
      if (requeued.length === 0) break;
      orphansRequeued.inc({ kind: 'outbound_job' }, requeued.length);
      log.warn({ count: requeued.length, jobIds: requeued.slice(0, 20).map((j) => j.id) }, 'unfinished jobs without a queue entry were queued again');
      if (requeued.length < 1000) break;
    }
    // Entries an earlier version queued without their integration's group: the fair fetch takes none of those.
    const grouped = await jobs.groupUngrouped();
    if (grouped > 0) {
      orphansRequeued.inc({ kind: 'ungrouped_entry' }, grouped);
      log.warn({ count: grouped }, 'queue entries without an integration group were put into theirs');
    }
    const events = await webhooks.sweepWaiting();
    if (events.requeued > 0) {
      orphansRequeued.inc({ kind: 'webhook_event' }, events.requeued);
      log.warn({ count: events.requeued }, 'waiting webhook events without a queue entry were queued again');
    }
    if (events.failed > 0) log.warn({ count: events.failed }, 'waiting webhook events whose queue entry spent its retries were marked FAILED');
  };
  await boss.createQueue(ORPHAN_QUEUE, { policy: 'singleton', retryLimit: 2 });
  await boss.schedule(ORPHAN_QUEUE, '*/5 * * * *');
  const workerId = await boss.work(ORPHAN_QUEUE, sweep);
  // The first sweep goes through the queue too: start-up does not wait for it (after a long
  // stop it may have thousands of jobs to queue), and processes starting together take turns.
  await boss.send(ORPHAN_QUEUE, {});
  return async () => {
    await boss.offWork(ORPHAN_QUEUE, { id: workerId, wait: true });
  };
}
