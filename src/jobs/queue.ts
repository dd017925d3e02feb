import { PgBoss } from 'pg-boss';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { nameForText, preparedIn } from '../db/prepared.js';
import { guardedOptions, type Guard } from '../db/guarded-client.js';
import { newId } from '../domain/shared/ids.js';
import { prepareFairFetch } from './fair-fetch.js';
import { INBOUND_QUEUE, LEGACY_OUTBOUND_QUEUE, OUTBOUND_QUEUE, QUEUE_SCHEMA } from './queue-names.js';

export interface QueueOptions {
  /** Worker roles supervise: expire stale jobs, fail jobs whose worker stopped heartbeating. */
  supervise: boolean;
  heartbeatSeconds: number;
  monitorIntervalSeconds: number;
  /** Time limits and availability reports for the queue's pool (src/db/guarded-client.ts). */
  guard?: Pick<Guard, 'timeouts' | 'monitor'>;
}

/**
 * How long pg-boss keeps a finished outbound entry (pg-boss's default is 7 days). The job row is
 * the record of a job; a finished entry only weighs on the table the fetch reads (and on its
 * statistics: docs/benchmarks.md, session 10). An hour leaves time to look at recent ones.
 */
const OUTBOUND_DONE_KEEP_SECONDS = 3_600;

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
    // pg-boss hands its options to its pg.Pool: the guarded client (time limits, keepalive,
    // availability reports) for the queue's connections too.
    ...(options.guard ? guardedOptions({ pool: 'queue', role: 'worker', ...options.guard }) : {}),
  } as ConstructorParameters<typeof PgBoss>[0]);
  boss.on('error', (err: Error) => log.error({ err }, 'queue error'));
  boss.on('warning', (warning: { message: string }) => log.warn({ warning: warning.message }, 'queue warning'));
  await boss.start();
  await boss.createQueue(OUTBOUND_QUEUE, {
    // Any order: the engine keeps each entity's order itself (START_SQL in outbound-worker.ts).
    // pg-boss's key_strict_fifo fetch sorted every waiting entry on each fetch, which grew with
    // the backlog: 0.74 ms of PostgreSQL CPU per job with 4,000 waiting (docs/benchmarks.md).
    policy: 'standard',
    // Attempts are counted and capped by the engine (integration maxAttempts); pg-boss only
    // re-delivers: after a deferral, or when a worker died (heartbeat lost).
    retryLimit: 1_000_000,
    retryDelay: 1,
    retryBackoff: false,
    heartbeatSeconds: options.heartbeatSeconds,
    expireInSeconds: 3_600,
    deleteAfterSeconds: OUTBOUND_DONE_KEEP_SECONDS,
    notify: true,
  });
  // Queues created by earlier versions kept pg-boss's default (7 days); their next entries follow this.
  await boss.updateQueue(OUTBOUND_QUEUE, { deleteAfterSeconds: OUTBOUND_DONE_KEEP_SECONDS });
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
  // Both queues are fetched fairly between integrations (ADR 0011).
  await prepareFairFetch(connectionString, boss, log);
  return boss;
}

/**
 * pg-boss runs its statements through our transaction: the job exists exactly when the write
 * does. They run as named prepared statements on the transaction's connection (pg-boss's texts
 * are fixed per operation and options; see nameForText).
 */
export function queueDb(tx: EntityManager) {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const name = nameForText(text);
      if (name === null) return { rows: (await tx.queryRunner!.query(text, values, true)).records as unknown[] };
      return { rows: await preparedIn(tx, name, text, values) };
    },
  };
}

/**
 * How long an entry that was running in the legacy queue waits in the new one: long enough for
 * a worker of the earlier version still running it to finish (its outcome is then on the row,
 * and the new entry just completes); if that worker died, the job runs again with the same
 * provider idempotency key after this.
 */
const LEGACY_ACTIVE_GRACE_MS = 120_000;

/**
 * Moves the waiting and running entries of the earlier versions' outbound queue (policy
 * key_strict_fifo, LEGACY_OUTBOUND_QUEUE) to OUTBOUND_QUEUE, each job's row pointing at its new
 * entry, and deletes the legacy queue, in one transaction. A waiting entry keeps its start time.
 * Processes starting together take turns (an advisory lock); the second finds no queue. One
 * way: an earlier version does not read OUTBOUND_QUEUE. Returns how many entries moved.
 */
export async function adoptLegacyOutboundQueue(db: DataSource, boss: PgBoss, log: Logger): Promise<number> {
  if (!(await boss.getQueue(LEGACY_OUTBOUND_QUEUE))) return 0;
  const moved = await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('switchboard:legacy-outbound-queue'))`);
    // The queue row, locked: a process of an earlier version inserting an entry now waits at its
    // foreign-key check until this commits, and then fails (the queue is gone), so no entry is
    // left behind. Gone already: another process moved it.
    const queue = (await tx.query(`SELECT name FROM ${QUEUE_SCHEMA}.queue WHERE name = $1 FOR UPDATE`, [LEGACY_OUTBOUND_QUEUE])) as unknown[];
    if (queue.length === 0) return null;
    const old = (await tx.query(
      `SELECT id, data, state, start_after FROM ${QUEUE_SCHEMA}.job WHERE name = $1 AND state IN ('created', 'retry', 'active') FOR UPDATE`,
      [LEGACY_OUTBOUND_QUEUE],
    )) as Array<{ id: string; data: unknown; state: string; start_after: Date }>;
    if (old.length > 0) {
      const fresh = old.map(() => newId());
      const graceUntil = new Date(Date.now() + LEGACY_ACTIVE_GRACE_MS);
      await boss.insert(
        OUTBOUND_QUEUE,
        old.map((e, i) => {
          const integrationId = (e.data as { integrationId?: unknown } | null)?.integrationId;
          return {
            id: fresh[i],
            data: e.data as object,
            startAfter: e.state === 'active' ? graceUntil : e.start_after,
            // Its integration's group, for the fair fetch (an entry too old to name it is fetched ungrouped).
            ...(typeof integrationId === 'string' && integrationId ? { group: { id: integrationId } } : {}),
          };
        }),
        { db: queueDb(tx), returnId: false },
      );
      await tx.query(`UPDATE integration_job j SET queue_job_id = m.fresh FROM unnest($1::uuid[], $2::uuid[]) AS m(old, fresh) WHERE j.queue_job_id = m.old`, [
        old.map((e) => e.id),
        fresh,
      ]);
    }
    // pg-boss's own function: the queue's entries (all moved or settled) and the queue.
    await tx.query(`SELECT ${QUEUE_SCHEMA}.delete_queue($1)`, [LEGACY_OUTBOUND_QUEUE]);
    return old.length;
  });
  if (moved === null) return 0;
  log.info({ moved, from: LEGACY_OUTBOUND_QUEUE, to: OUTBOUND_QUEUE }, 'the legacy outbound queue was moved to the new one and deleted');
  return moved;
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
