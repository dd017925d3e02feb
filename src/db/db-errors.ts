/**
 * A statement, or the wait for a connection, ran past its time limit on this side: the database
 * gave no answer in time (stalled, unreachable, or too slow). The connection it ran on is closed,
 * so whatever it had started is rolled back by the server.
 */
export class DatabaseTimeoutError extends Error {
  readonly code = 'SB_DB_TIMEOUT';
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseTimeoutError';
  }
}

/** A new connection to PostgreSQL could not be made (refused, reset, timed out, or refused by the server). */
export class DatabaseConnectError extends Error {
  readonly code = 'SB_DB_CONNECT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseConnectError';
  }
}

/**
 * SQLSTATEs that mean "the database cannot serve this now, try again", not "this request is wrong":
 * connection exceptions (08), the server shutting down, crashed or starting (57P01 to 57P03), a
 * statement or lock timeout (57014, 55P03), an idle transaction ended by the server (25P03),
 * insufficient resources such as too many connections or a full disk (53), system errors (58).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|58)|^(57P01|57P02|57P03|57014|55P03|25P03)$/;

/** Socket errors: the server is not reachable at all, or the connection broke. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND']);

/** node-postgres and pg-pool report these without a code. */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|Cannot use a pool after calling end on the pool)$/;

/**
 * Whether `err` (or what it wraps: TypeORM's driverError, a cause, an AggregateError's errors)
 * says the database is down, unreachable or too slow: the caller answers SERVICE_UNAVAILABLE
 * (HTTP 503, retryable) instead of INTERNAL_SERVER_ERROR.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  if (err instanceof DatabaseTimeoutError || err instanceof DatabaseConnectError) return true;
  const e = err as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNAVAILABLE_SQLSTATE.test(e.code) || UNAVAILABLE_ERRNO.has(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(e.driverError, depth + 1) || isDatabaseUnavailable(e.cause, depth + 1);
}
