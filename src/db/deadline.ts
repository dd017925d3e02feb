import { DatabaseTimeoutError } from './db-errors.js';

/**
 * Deadlines are carried explicitly (a performance.now() time), not in an AsyncLocalStorage:
 * on Node 20 its promise hooks cost every promise of every request (ADR 0010 measured ~1 ms of
 * CPU more per GraphQL read, about 20%).
 */
export const deadlineIn = (ms: number): number => performance.now() + ms;

/** Milliseconds left before `deadline`. */
export const msLeft = (deadline: number): number => deadline - performance.now();

/**
 * `work` (maybe shared with other callers, so not bounded by this caller's deadline), given up on
 * by this caller at `deadline`: it then rejects with DatabaseTimeoutError, while the work goes on
 * within its own limits for whoever else waits on it.
 */
export function withinDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError('the request ran out of time waiting for the database (DB_REQUEST_TIMEOUT_MS)')), Math.max(0, msLeft(deadline)));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
