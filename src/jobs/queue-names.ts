/** The PostgreSQL schema pg-boss keeps its tables in. */
export const QUEUE_SCHEMA = 'pgboss';

/** The pg-boss queue every outbound provider call goes through. */
export const OUTBOUND_QUEUE = 'outbound';

/** What a queued pg-boss job carries: the IntegrationJob's id (the row is the record of truth) and its integration's. */
export interface OutboundQueueData {
  jobId: string;
  /** Lets the worker start the attempt without loading the job first (absent on entries queued before it was added). */
  integrationId?: string;
}

/** Per-entity order: jobs with the same key run one at a time, in the order they were enqueued. */
export function orderingKey(integrationId: string, entityType: string | null, entityId: string | null, jobId: string): string {
  return entityType && entityId ? `${integrationId}:${entityType}:${entityId}` : `${integrationId}:job:${jobId}`;
}

/** The pg-boss queue that processes stored webhook events into the canonical model. */
export const INBOUND_QUEUE = 'inbound';

/**
 * A queued inbound job carries only webhook_event ids (the rows hold the events): the events
 * one ingress commit stored, or one replayed event. Processing skips events already settled,
 * so a retried job re-runs only what failed.
 */
export interface InboundQueueData {
  eventIds: string[];
}
