/** The codes every domain error carries; mapped to GraphQL `extensions.code` and HTTP in one place. */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  CONFLICT = 'CONFLICT',
  RATE_LIMITED = 'RATE_LIMITED',
  /** The database (or the queue in it) is down or too slow: HTTP 503 with Retry-After; clients retry. */
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The input field at fault, for BAD_USER_INPUT. */
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badInput = (field: string, message: string) => new DomainError(ErrorCode.BAD_USER_INPUT, message, field);
export const notFound = (type: string) => new DomainError(ErrorCode.NOT_FOUND, `${type} not found`);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorCode.CONFLICT, message, undefined, details);
export const forbidden = (message = 'This API key may not do that') => new DomainError(ErrorCode.FORBIDDEN, message);
export const unauthenticated = (message = 'A valid API key is required') =>
  new DomainError(ErrorCode.UNAUTHENTICATED, message);

/** Seconds a client is told to wait before retrying a SERVICE_UNAVAILABLE answer (Retry-After). */
export const RETRY_AFTER_SECONDS = 2;

export const serviceUnavailable = (message = 'The database is unavailable or too slow right now; retry shortly') =>
  new DomainError(ErrorCode.SERVICE_UNAVAILABLE, message, undefined, { retryAfterSeconds: RETRY_AFTER_SECONDS });
