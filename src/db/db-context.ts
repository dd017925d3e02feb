import { AsyncLocalStorage } from 'node:async_hooks';
import { DatabaseTimeoutError } from './db-errors.js';

/**
 * Whose statements these are. Each role has its own statement timeout (ADR 0010): an API request
 * has a budget for all its database work (DB_REQUEST_TIMEOUT_MS), a worker's statement may run
 * longer (DB_WORKER_STATEMENT_TIMEOUT_MS), a migration longer still (DB_MIGRATION_TIMEOUT_MS).
 */
export type DbRole = 'api' | 'worker' | 'migration';

export interface DbContext {
  role: DbRole;
  /** performance.now() by which every statement of this unit of work must have answered; null: none. */
  deadline: number | null;
}

const storage = new AsyncLocalStorage<DbContext>();

/**
 * The context the current code runs in, if any. It travels with the async call chain (an
 * AsyncLocalStorage): a request's resolvers, TypeORM and the pg client all see the request's
 * deadline without it being passed along.
 */
export function dbContext(): DbContext | undefined {
  return storage.getStore();
}

/** Runs `fn` as an API request whose database work must be over within `ms` from now. */
export function withRequestDeadline<T>(ms: number, fn: () => T): T {
  return storage.run({ role: 'api', deadline: performance.now() + ms }, fn);
}

/** Runs `fn` under an absolute deadline (performance.now() time) shared by several callers. */
export function withDeadlineAt<T>(deadline: number, fn: () => T): T {
  return storage.run({ role: 'api', deadline }, fn);
}

/** Runs `fn` with `role`'s statement timeout and no request deadline. */
export function withDbRole<T>(role: DbRole, fn: () => T): T {
  return storage.run({ role, deadline: null }, fn);
}

/**
 * Runs `fn` outside any request: background work a request starts (publishing its events after
 * the commit, say) must not inherit the request's deadline, which may run out before it starts.
 */
export function detached<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** Milliseconds left of the current deadline, or null when there is none. */
export function remainingMs(): number | null {
  const deadline = storage.getStore()?.deadline;
  return deadline === null || deadline === undefined ? null : deadline - performance.now();
}

/**
 * `work` (shared with other callers, so not under this caller's deadline), given up on by this
 * caller when its own deadline passes: it then rejects with DatabaseTimeoutError.
 */
export function withinDeadline<T>(work: Promise<T>): Promise<T> {
  const left = remainingMs();
  if (left === null) return work;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError('the request ran out of time waiting for the database (DB_REQUEST_TIMEOUT_MS)')), Math.max(0, left));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
