import { randomUUID } from 'node:crypto';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A caller-supplied correlation id is kept when it is a sane token, else a new one is made.
 * It travels explicitly (request context, job payloads), not through AsyncLocalStorage, whose
 * promise hooks cost every request on Node 20.
 */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && CORRELATION_ID.test(value) ? value : randomUUID();
}
