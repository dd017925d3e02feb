import { IntegrationJob } from '../domain/job/integration-job.entity.js';

const JOB_COLUMNS: Record<string, keyof IntegrationJob> = {
  id: 'id', integration_id: 'integrationId', operation: 'operation', entity_type: 'entityType', entity_id: 'entityId', status: 'status',
  attempts: 'attempts', max_attempts: 'maxAttempts', last_error: 'lastError', correlation_id: 'correlationId', idempotency_key: 'idempotencyKey',
  provider_idempotency_key: 'providerIdempotencyKey', queue_job_id: 'queueJobId', payload: 'payload', result: 'result',
  next_attempt_at: 'nextAttemptAt', created_at: 'createdAt', updated_at: 'updatedAt', completed_at: 'completedAt',
  source: 'source', source_integration_id: 'sourceIntegrationId', synced_hashes: 'syncedHashes',
};

/** The columns jobFromRow reads, for statements that must not return `*` (prepared ones keep their result shape). */
export const JOB_COLUMN_LIST = Object.keys(JOB_COLUMNS).join(', ');

/** A RETURNING * row of integration_job as the entity (one statement instead of update + reload). */
export function jobFromRow(row: Record<string, unknown>): IntegrationJob {
  const job = new IntegrationJob();
  for (const [column, property] of Object.entries(JOB_COLUMNS)) (job as unknown as Record<string, unknown>)[property] = row[column];
  return job;
}
