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

  /** The pg-boss job that processes these events (one job per ingress commit). */
  jobsFor(eventIds: string[]) {
    return [
      {
        id: newId(),
        data: { eventIds } satisfies InboundQueueData,
        retryLimit: this.retry.retryLimit,
        retryDelay: this.retry.retryDelay,
        retryBackoff: true,
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
        `UPDATE webhook_event SET status = 'RECEIVED', error = NULL, processed_at = NULL WHERE id = $1 RETURNING id`,
        [id],
      )) as [Array<{ id: string }>, number];
      if (rows[0].length === 0) throw notFound('WebhookEvent');
      await this.boss.insert(INBOUND_QUEUE, this.jobsFor([id]), { db: queueDb(tx) });
      return (await tx.findOneBy(WebhookEvent, { id }))!;
    });
  }

  /** After resumeIntegration: queue every event the pause left waiting. */
  async wakeWaiting(integrationId: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = (await tx.query(`SELECT id FROM webhook_event WHERE integration_id = $1 AND status = 'RECEIVED' ORDER BY id`, [integrationId])) as Array<{ id: string }>;
      for (let i = 0; i < rows.length; i += 100) {
        await this.boss.insert(INBOUND_QUEUE, this.jobsFor(rows.slice(i, i + 100).map((r) => r.id)), { db: queueDb(tx) });
      }
      return rows.length;
    });
  }

  /**
   * Stored events that wait (RECEIVED) at an ACTIVE integration and that no queue entry names
   * any more get one, as the outbound jobs do (JobService.requeueOrphans): pg-boss deletes an
   * entry still waiting 14 days past its start time, which happens when every worker is stopped
   * that long. A completed entry does not count (the processor completes the entry of a paused
   * integration's event and leaves the event waiting for the resume, whose re-queue may have
   * been lost); a failed or cancelled one does (its retries were spent: failSpent makes the event
   * FAILED, for an operator, rather than retrying it without end). Events younger than a minute are left alone. A second
   * delivery of an event is harmless: processing skips settled events. Returns how many were
   * queued (at most `limit`, oldest first).
   */
  async requeueOrphans(limit = 5000): Promise<number> {
    const rows = (await this.db.query(
      `SELECT e.id FROM webhook_event e JOIN integration i ON i.id = e.integration_id AND i.status = 'ACTIVE'
        WHERE e.status = 'RECEIVED' AND e.received_at < now() - interval '1 minute'
          AND e.id::text NOT IN (SELECT jsonb_array_elements_text(q.data->'eventIds') FROM ${QUEUE_SCHEMA}.job q WHERE q.name = $1 AND q.state <> 'completed')
        ORDER BY e.received_at LIMIT $2`,
      [INBOUND_QUEUE, limit],
    )) as Array<{ id: string }>;
    for (let i = 0; i < rows.length; i += 100) {
      await this.boss.insert(INBOUND_QUEUE, this.jobsFor(rows.slice(i, i + 100).map((r) => r.id)));
    }
    return rows.length;
  }

  /**
   * Waiting (RECEIVED) events whose queue entry failed, with no other entry still to run them,
   * become FAILED: pg-boss spent their retries without the processor recording an outcome (the
   * worker died or hung on the last attempt). They show in the inbox as FAILED, to be replayed,
   * instead of waiting forever (or being queued again and again). The rows are locked first and
   * checked again under the lock, so a replay committed meanwhile (its new entry) wins. Returns
   * how many.
   */
  async failSpent(limit = 5000): Promise<number> {
    const named = (states: string) => `SELECT jsonb_array_elements_text(q.data->'eventIds') FROM ${QUEUE_SCHEMA}.job q WHERE q.name = $1 AND q.state ${states}`;
    const spent = `e.status = 'RECEIVED' AND e.id::text IN (${named("IN ('failed', 'cancelled')")}) AND e.id::text NOT IN (${named("< 'completed'")})`;
    const candidates = (await this.db.query(`SELECT e.id FROM webhook_event e WHERE ${spent} AND e.received_at < now() - interval '1 minute' LIMIT $2`, [
      INBOUND_QUEUE,
      limit,
    ])) as Array<{ id: string }>;
    if (candidates.length === 0) return 0;
    const ids = candidates.map((c) => c.id);
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT id FROM webhook_event WHERE id = ANY($1) AND status = 'RECEIVED' ORDER BY id FOR UPDATE`, [ids]);
      const [rows] = (await tx.query(`UPDATE webhook_event e SET status = 'FAILED', error = $3 WHERE e.id = ANY($2) AND ${spent} RETURNING e.id`, [
        INBOUND_QUEUE,
        ids,
        'processing did not finish: its queue entry spent its retries (the worker stopped or hung during its last attempt)',
      ])) as [unknown[], number];
      return rows.length;
    });
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
