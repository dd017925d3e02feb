import type { IntegrationLog } from '../domain/job/integration-log.entity.js';

const COLUMNS = [
  'id', 'service', 'event_type', 'direction', 'status', 'timestamp', 'error_msg', 'correlation_id', 'integration_id',
  'job_id', 'webhook_event_id', 'http_status', 'duration_ms', 'attempt', 'request', 'response', 'error_kind',
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
    log.errorKind ?? null,
  ];
}

/**
 * INSERT of every integration_log row in a JSON array parameter (objects keyed by column, as
 * logRecord makes them): many rows in one statement, or one step in a larger one.
 */
export function insertLogsSql(param: string): string {
  return `INSERT INTO integration_log (${COLUMNS.join(', ')})
    SELECT ${COLUMNS.join(', ')} FROM jsonb_populate_recordset(NULL::integration_log, ${param}::jsonb)`;
}

/** A log row as insertLogsSql reads it: its columns by name. */
export function logRecord(log: IntegrationLog): Record<(typeof COLUMNS)[number], unknown> {
  return {
    id: log.id, service: log.service, event_type: log.eventType, direction: log.direction, status: log.status, timestamp: log.timestamp,
    error_msg: log.errorMsg, correlation_id: log.correlationId, integration_id: log.integrationId, job_id: log.jobId,
    webhook_event_id: log.webhookEventId, http_status: log.httpStatus, duration_ms: log.durationMs, attempt: log.attempt,
    request: log.request, response: log.response, error_kind: log.errorKind ?? null,
  };
}
