import { recordAudit } from '../observability/audit.js';
import type { PgBoss } from 'pg-boss';
import { In, type DataSource } from 'typeorm';
import { notFound } from '../domain/shared/errors.js';
import { newId } from '../domain/shared/ids.js';
import { paginate, type Connection, type PageArgs } from '../domain/shared/pagination.js';
import { WebhookEvent, WebhookStatus } from '../domain/webhook/webhook-event.entity.js';
import { queueDb } from '../jobs/queue.js';
import { INBOUND_QUEUE, QUEUE_SCHEMA, type InboundQueueData } from '../jobs/queue-names.js';

export interface WebhookEventFilter {
  integrationId?: string | null;
  status?: WebhookStatus | null;
  eventType?: string | null;
  externalEventId?: string | null;
  correlationId?: string | null;
  receivedAfter?: Date | null;
  receivedBefore?: Date | null;
}

/** Stored webhook events for operators: list, replay, and wake the ones a pause held back. */
export class WebhookService {
  constructor(
    private readonly db: DataSource,
    private readonly boss: PgBoss,
    private readonly retry: { retryLimit: number; retryDelay: number },
  ) {}

  /**
   * The pg-boss job that processes these events, all of one integration: in that integration's
   * group, which the processor's fair fetch shares out by (src/jobs/fair-fetch.ts). The ingress
   * makes one job per integration per commit from the template `jobsFor([])` (event-writer.ts).
   */
  jobsFor(eventIds: string[], integrationId?: string) {
    return [
      {
        id: newId(),
        data: { eventIds } satisfies InboundQueueData,
        retryLimit: this.retry.retryLimit,
        retryDelay: this.retry.retryDelay,
        retryBackoff: true,
        ...(integrationId ? { group: { id: integrationId } } : {}),
      },
    ];
  }

  async get(id: string): Promise<WebhookEvent> {
    const event = await this.db.getRepository(WebhookEvent).findOneBy({ id });
    if (!event) throw notFound('WebhookEvent');
    return event;
  }

  async findByIds(ids: readonly string[]): Promise<WebhookEvent[]> {
    return this.db.getRepository(WebhookEvent).findBy({ id: In([...ids]) });
  }

  async list(filter: WebhookEventFilter, page: PageArgs): Promise<Connection<WebhookEvent>> {
    const qb = this.db.getRepository(WebhookEvent).createQueryBuilder('w');
    if (filter.integrationId) qb.andWhere('w.integrationId = :integrationId', { integrationId: filter.integrationId });
    if (filter.status) qb.andWhere('w.status = :status', { status: filter.status });
    if (filter.eventType) qb.andWhere('w.eventType = :eventType', { eventType: filter.eventType });
    if (filter.externalEventId) qb.andWhere('w.externalEventId = :externalEventId', { externalEventId: filter.externalEventId });
    if (filter.correlationId) qb.andWhere('w.correlationId = :correlationId', { correlationId: filter.correlationId });
    if (filter.receivedAfter) qb.andWhere('w.receivedAt >= :receivedAfter', { receivedAfter: filter.receivedAfter });
    if (filter.receivedBefore) qb.andWhere('w.receivedAt < :receivedBefore', { receivedBefore: filter.receivedBefore });
    return paginate(qb, page);
  }

  /**
   * Runs an event's processing again: back to RECEIVED with a fresh attempt budget, queued in the
   * same transaction. Processing is idempotent (links, per-field order), so a replay of an
   * applied event changes nothing that a newer event set.
   */
  async replay(id: string): Promise<WebhookEvent> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(
        `UPDATE webhook_event SET status = 'RECEIVED', error = NULL, processed_at = NULL WHERE id = $1 RETURNING id, integration_id`,
        [id],
      )) as [Array<{ id: string; integration_id: string }>, number];
      if (rows[0].length === 0) throw notFound('WebhookEvent');
      await this.boss.insert(INBOUND_QUEUE, this.jobsFor([id], rows[0][0].integration_id), { db: queueDb(tx) });
      await recordAudit(tx, { action: 'replayWebhookEvent', targetType: 'WebhookEvent', targetId: id, after: { status: 'RECEIVED' } });
      return (await tx.findOneBy(WebhookEvent, { id }))!;
    });
  }

  /** After resumeIntegration: queue every event the pause left waiting. */
  async wakeWaiting(integrationId: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(`SELECT id FROM webhook_event WHERE integration_id = $1 AND status = 'RECEIVED' ORDER BY id`, [integrationId])) as Array<{ id: string }>;
      for (let i = 0; i < rows.length; i += 100) {
        await this.boss.insert(INBOUND_QUEUE, this.jobsFor(rows.slice(i, i + 100).map((r) => r.id), integrationId), { db: queueDb(tx) });
      }
      return rows.length;
    });
  }

  /**
   * What the queue says of waiting events: for each of `ids`, whether an inbound entry naming it
   * is still to run (created, retry, active) and the state of the newest entry naming it (null:
   * none). Reads only entries created since `since` (an entry is never older than its events).
   */
  private async entryStates(q: { query: DataSource['query'] }, ids: string[], since: Date): Promise<Map<string, { live: boolean; newest: string | null }>> {
    const rows = (await q.query(
      `SELECT x.id, bool_or(j.state < 'completed') AS live, (array_agg(j.state::text ORDER BY j.created_on DESC))[1] AS newest
         FROM ${QUEUE_SCHEMA}.job j CROSS JOIN LATERAL jsonb_array_elements_text(j.data->'eventIds') AS x(id)
        WHERE j.name = $1 AND j.created_on >= $2::timestamptz - interval '1 minute' AND j.data->'eventIds' ?| $3::text[] AND x.id = ANY($3::text[])
        GROUP BY x.id`,
      [INBOUND_QUEUE, since, ids],
    )) as Array<{ id: string; live: boolean; newest: string }>;
    const states = new Map(ids.map((id) => [id, { live: false, newest: null as string | null }]));
    for (const r of rows) states.set(r.id, { live: r.live, newest: r.newest });
    return states;
  }

  /**
   * The orphan sweep's share for webhook events (src/jobs/orphans.ts), over events waiting
   * (RECEIVED) for over a minute at an ACTIVE integration, oldest first, at most `limit`:
   *
   * - no entry left to run them and the newest one completed, or none at all: queued again.
   *   pg-boss deletes an entry still waiting 14 days past its start time (a gateway stopped that
   *   long); the processor completes a paused integration's entry and leaves its event for the
   *   resume's re-queue, which can be lost. A second delivery is harmless (processing skips
   *   settled events).
   * - no entry left to run them and the newest one failed: pg-boss spent its retries without the
   *   processor recording an outcome (the worker died or hung on the last attempt). The event
   *   becomes FAILED with that reason, for an operator's replay, rather than being retried
   *   without end. Rows are locked and the queue read again under the lock, so a replay
   *   committed meanwhile wins.
   *
   * When nothing waits, as in normal running, it reads no queue entries at all.
   */
  async sweepWaiting(limit = 5000): Promise<{ requeued: number; failed: number }> {
    const waiting = (await this.db.query(
      `SELECT e.id, e.integration_id, e.received_at FROM webhook_event e JOIN integration i ON i.id = e.integration_id AND i.status = 'ACTIVE'
        WHERE e.status = 'RECEIVED' AND e.received_at < now() - interval '1 minute'
        ORDER BY e.received_at LIMIT $1`,
      [limit],
    )) as Array<{ id: string; integration_id: string; received_at: Date }>;
    if (waiting.length === 0) return { requeued: 0, failed: 0 };
    const ids = waiting.map((w) => w.id);
    const since = waiting[0].received_at;
    const states = await this.entryStates(this.db, ids, since);
    const orphans = ids.filter((id) => !states.get(id)!.live && (states.get(id)!.newest ?? 'completed') === 'completed');
    const spent = ids.filter((id) => !states.get(id)!.live && ['failed', 'cancelled'].includes(states.get(id)!.newest ?? ''));
    const integrationOf = new Map(waiting.map((w) => [w.id, w.integration_id]));
    const byIntegration = new Map<string, string[]>();
    for (const id of orphans) byIntegration.set(integrationOf.get(id)!, [...(byIntegration.get(integrationOf.get(id)!) ?? []), id]);
    for (const [integrationId, ids] of byIntegration) {
      for (let i = 0; i < ids.length; i += 100) await this.boss.insert(INBOUND_QUEUE, this.jobsFor(ids.slice(i, i + 100), integrationId));
    }
    let failed = 0;
    if (spent.length > 0) {
      failed = await this.db.transaction(async (tx) => {
        const locked = ((await tx.query(`SELECT id FROM webhook_event WHERE id = ANY($1) AND status = 'RECEIVED' ORDER BY id FOR UPDATE`, [spent])) as Array<{ id: string }>).map(
          (r) => r.id,
        );
        if (locked.length === 0) return 0;
        const now = await this.entryStates(tx, locked, since);
        const still = locked.filter((id) => !now.get(id)!.live && ['failed', 'cancelled'].includes(now.get(id)!.newest ?? ''));
        if (still.length === 0) return 0;
        await tx.query(`UPDATE webhook_event SET status = 'FAILED', error = $2 WHERE id = ANY($1) AND status = 'RECEIVED'`, [
          still,
          'processing did not finish: its queue entry spent its retries (the worker stopped or hung during its last attempt)',
        ]);
        return still.length;
      });
    }
    return { requeued: orphans.length, failed };
  }

  /** Per integration: events stored but not processed, and the oldest one's age. */
  async lag(): Promise<Array<{ integrationId: string; waiting: number; oldestSeconds: number }>> {
    const rows = (await this.db.query(
      `SELECT i.id, count(w.id)::int AS waiting, COALESCE(EXTRACT(EPOCH FROM now() - min(w.received_at)), 0)::float8 AS oldest
       FROM integration i LEFT JOIN webhook_event w ON w.integration_id = i.id AND w.status = 'RECEIVED'
       GROUP BY i.id`,
    )) as Array<{ id: string; waiting: number; oldest: number }>;
    return rows.map((r) => ({ integrationId: r.id, waiting: r.waiting, oldestSeconds: r.oldest }));
  }
}
