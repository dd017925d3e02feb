import type { IntegrationLog } from '../domain/job/integration-log.entity.js';

const COLUMNS = [
  'id', 'service', 'event_type', 'direction', 'status', 'timestamp', 'error_msg', 'correlation_id', 'integration_id',
  'job_id', 'webhook_event_id', 'http_status', 'duration_ms', 'attempt', 'request', 'response',
] as const;

/** IntegrationLog.service: the provider's name in lower case ('stripe'), in and out alike. */
export const logService = (provider: string): string => provider.toLowerCase();

/** INSERT of one integration_log row from parameters $from.. (a statement, or a step in a CTE). */
export function insertLogSql(from: number): string {
  const values = COLUMNS.map((_, i) => `$${from + i}`).join(', ');
  return `INSERT INTO integration_log (${COLUMNS.join(', ')}) VALUES (${values})`;
}

/** The parameters for insertLogSql, in column order. */
export function logParams(log: IntegrationLog): unknown[] {
  return [
    log.id, log.service, log.eventType, log.direction, log.status, log.timestamp, log.errorMsg, log.correlationId, log.integrationId,
    log.jobId, log.webhookEventId, log.httpStatus, log.durationMs, log.attempt, JSON.stringify(log.request), JSON.stringify(log.response),
  ];
}
