/** The PostgreSQL schema pg-boss keeps its tables in. */
export const QUEUE_SCHEMA = 'pgboss';

/**
 * The pg-boss queue every outbound provider call goes through. Policy `standard`: the order of
 * one entity's jobs is kept by the engine (integration_job.seq, checked as an attempt starts),
 * not by the queue (docs/adr/0005).
 */
export const OUTBOUND_QUEUE = 'provider-calls';

/**
 * The outbound queue of earlier versions (policy `key_strict_fifo`); its waiting entries move to
 * OUTBOUND_QUEUE when a process of this version starts (adoptLegacyOutboundQueue).
 */
export const LEGACY_OUTBOUND_QUEUE = 'outbound';

/** What a queued pg-boss job carries: the IntegrationJob's id (the row is the record of truth) and its integration's. */
export interface OutboundQueueData {
  jobId: string;
  /** Lets the worker start the attempt without loading the job first (absent on entries queued before it was added). */
  integrationId?: string;
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

/** The pg-boss queue of sync runs (backfill, scheduled polling): one entry per run; the row holds its cursor. */
export const SYNC_QUEUE = 'sync-runs';

export interface SyncQueueData {
  runId: string;
}
