/** The pg-boss queue every outbound provider call goes through. */
export const OUTBOUND_QUEUE = 'outbound';

/** What a queued pg-boss job carries: only the IntegrationJob's id (the row is the record of truth). */
export interface OutboundQueueData {
  jobId: string;
}

/** Per-entity order: jobs with the same key run one at a time, in the order they were enqueued. */
export function orderingKey(integrationId: string, entityType: string | null, entityId: string | null, jobId: string): string {
  return entityType && entityId ? `${integrationId}:${entityType}:${entityId}` : `${integrationId}:job:${jobId}`;
}
