import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import { INBOUND_QUEUE, OUTBOUND_QUEUE, QUEUE_SCHEMA } from './queue-names.js';

export interface QueueOptions {
  /** Worker roles supervise: expire stale jobs, fail jobs whose worker stopped heartbeating. */
  supervise: boolean;
  heartbeatSeconds: number;
  monitorIntervalSeconds: number;
}

/** pg-boss on the gateway's own database, in its own schema, with the outbound queue. */
export async function startQueue(connectionString: string, log: Logger, options: QueueOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString,
    schema: QUEUE_SCHEMA,
    application_name: 'switchboard-queue',
    max: 10,
    supervise: options.supervise,
    schedule: options.supervise,
    // A job whose worker died is noticed within heartbeatSeconds plus one monitor pass,
    // instead of pg-boss's default of minutes.
    superviseIntervalSeconds: options.monitorIntervalSeconds,
    monitorIntervalSeconds: options.monitorIntervalSeconds,
    useListenNotify: true,
  });
  boss.on('error', (err: Error) => log.error({ err }, 'queue error'));
  boss.on('warning', (warning: { message: string }) => log.warn({ warning: warning.message }, 'queue warning'));
  await boss.start();
  await boss.createQueue(OUTBOUND_QUEUE, {
    // Per entity: one job at a time, in the order enqueued; a retry keeps its place.
    policy: 'key_strict_fifo',
    // Attempts are counted and capped by the engine (integration maxAttempts); pg-boss only
    // re-delivers: after a deferral, or when a worker died (heartbeat lost).
    retryLimit: 1_000_000,
    retryDelay: 1,
    retryBackoff: false,
    heartbeatSeconds: options.heartbeatSeconds,
    expireInSeconds: 3_600,
    notify: true,
  });
  await boss.createQueue(INBOUND_QUEUE, {
    // Webhook processing: any order (events carry their own time), retried with backoff (each
    // job carries WEBHOOK_RETRY_LIMIT and WEBHOOK_RETRY_DELAY_SECONDS); the processor marks the
    // event FAILED after the last attempt (replayWebhookEvent re-runs it). No NOTIFY: a
    // notifying transaction holds PostgreSQL's global notify lock through its commit, which
    // serialised the ingress's commits (docs/adr/0007); processors poll every half second.
    policy: 'standard',
    retryBackoff: true,
    retryDelayMax: 600,
    heartbeatSeconds: options.heartbeatSeconds,
    expireInSeconds: 600,
    notify: false,
  });
  return boss;
}

/** The table pg-boss keeps the outbound queue's entries in, as its getQueue reports it. */
export async function outboundTable(boss: PgBoss): Promise<string> {
  const table = (await boss.getQueue(OUTBOUND_QUEUE))?.table;
  if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`pg-boss reported no usable table for the ${OUTBOUND_QUEUE} queue`);
  return table;
}

/** Readiness: the queue's schema answers through the queue's own pool. */
export async function queueReady(boss: PgBoss): Promise<boolean> {
  return (await boss.schemaVersion()) !== null;
}
