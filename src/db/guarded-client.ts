import pg from 'pg';
import type { DatabaseAvailability } from './availability.js';
import { dbContext, remainingMs, type DbRole } from './db-context.js';
import { DatabaseConnectError, DatabaseTimeoutError, isDatabaseUnavailable } from './db-errors.js';
import { dbConnectionsLost, dbTimeouts } from '../observability/metrics.js';

/** The connection groups the gateway keeps, as the metrics name them. */
export type PoolName = 'data_source' | 'prepared' | 'queue' | 'listen' | 'webhook_writer' | 'probe';

/** Statement time limits by role (ADR 0010). */
export interface DbTimeouts {
  /** An API request's whole database budget, and the server-side limit of each of its statements (DB_REQUEST_TIMEOUT_MS). */
  requestMs: number;
  /** A worker's statement (DB_WORKER_STATEMENT_TIMEOUT_MS). */
  workerStatementMs: number;
  /** A migration's statement (DB_MIGRATION_TIMEOUT_MS); 0: no limit. */
  migrationStatementMs: number;
}

/** The time limits when none are configured (the defaults of the DB_*_TIMEOUT_MS settings). */
export const DEFAULT_DB_TIMEOUTS: DbTimeouts = { requestMs: 5_000, workerStatementMs: 30_000, migrationStatementMs: 600_000 };

/** What a GuardedClient needs besides pg's own settings; passed in the client (or pool) config as `guard`. */
export interface Guard {
  pool: PoolName;
  /** The role of statements run outside any DbContext (see db-context.ts). */
  role: DbRole;
  timeouts: DbTimeouts;
  /** Told of each success and failure; null for the monitor's own probe. */
  monitor: DatabaseAvailability | null;
}

/**
 * TCP keepalive after this much silence. Node (libuv) then probes every second, 10 times, so a
 * peer that vanished (host down, network cut) is noticed about 20 s into an idle connection,
 * instead of after the kernel's default of two hours plus 11 minutes.
 */
export const KEEPALIVE_IDLE_MS = 10_000;

/**
 * How much later than the server's own statement_timeout this side gives up: the server's
 * timeout (SQLSTATE 57014) normally ends a slow statement first; this side's only catches a
 * server that cannot answer at all (stalled, unreachable).
 */
const CLIENT_GRACE_MS = 1_000;

/** The session settings a role's connection runs with. */
function serverSettings(role: DbRole, t: DbTimeouts): { statement_timeout: number; idle_in_transaction_session_timeout: number } {
  switch (role) {
    case 'api':
      return { statement_timeout: t.requestMs, idle_in_transaction_session_timeout: t.requestMs };
    case 'worker':
      return { statement_timeout: t.workerStatementMs, idle_in_transaction_session_timeout: t.workerStatementMs };
    case 'migration':
      return { statement_timeout: t.migrationStatementMs, idle_in_transaction_session_timeout: 0 };
  }
}

type Callback = (err: Error | null, result?: pg.QueryResult) => void;

/**
 * node-postgres's Client with the gateway's fault handling (ADR 0010):
 *
 * - every statement has a time limit on this side: the current request's remaining budget, or
 *   its role's statement timeout plus a grace; past it the caller gets DatabaseTimeoutError and
 *   the connection is destroyed (a stalled or vanished server cannot be trusted with the next
 *   statement, and closing is how an unfinished transaction is rolled back);
 * - the server enforces the role's statement_timeout too (sent at connect; a connection that
 *   serves another role's statement is switched with one SET while it is idle);
 * - TCP keepalive; an 'error' listener always attached, so a connection that breaks while
 *   checked out never becomes an uncaught exception;
 * - successes and failures are reported to the availability monitor, which counts lost
 *   connections, notices outages and, on recovery, closes connections that went silent.
 *
 * Pools build it from their config (`Client: GuardedClient, guard: {...}`), so TypeORM's pool,
 * pg-boss's and the gateway's own connections all behave the same.
 */
export class GuardedClient extends pg.Client {
  readonly guard: Guard;
  /** The role whose settings the session has now. */
  private sessionRole: DbRole;
  /** Date.now() of the last answer from the server (a result, an error, a notification). */
  lastAnswerAt = 0;
  /** Date.now() when the statement in flight was sent, or null. */
  busySince: number | null = null;
  private abandoned = false;

  constructor(config: pg.ClientConfig & { guard: Guard }) {
    const guard = config.guard;
    super({
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      ...config,
      ...serverSettings(guard.role, guard.timeouts),
    });
    this.guard = guard;
    this.sessionRole = guard.role;
    this.on('error', () => {
      // A connection that breaks: pools drop it (their own listeners); count it here.
      if (guard.pool === 'probe') return;
      dbConnectionsLost.inc({ pool: guard.pool });
      guard.monitor?.lost(guard.pool);
    });
    this.on('notification', () => (this.lastAnswerAt = Date.now()));
    this.once('end', () => guard.monitor?.forget(this));
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: (...args: any[]) => void): Promise<pg.Client> | void {
    const connecting = super.connect().then(
      () => {
        this.lastAnswerAt = Date.now();
        this.guard.monitor?.connected(this);
        return this as pg.Client;
      },
      (err: unknown) => {
        const wrapped = new DatabaseConnectError(`could not connect to PostgreSQL: ${(err as Error)?.message ?? String(err)}`, { cause: err });
        this.guard.monitor?.failed(this.guard.pool, wrapped, Date.now());
        throw wrapped;
      },
    );
    if (!callback) return connecting;
    connecting.then((c) => callback(null, c), (err: Error) => callback(err));
  }

  override query(config: any, values?: any, callback?: any): any {
    // Submittables (cursors, streams) are not used by the gateway; they pass through unguarded.
    if (config && typeof config.submit === 'function') return super.query(config, values, callback);
    const cb: Callback | undefined = typeof values === 'function' ? values : callback;
    const params = typeof values === 'function' ? undefined : values;
    const result = this.guarded(config, params);
    if (!cb) return result;
    result.then((r) => cb(null, r), (e: Error) => cb(e));
    return undefined;
  }

  /** Destroys the connection (its server session ends; a transaction it had open is rolled back). */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }

  /** The time limit of this statement on this side, in ms (null: none). */
  private limitFor(role: DbRole, explicit: number | undefined): number | null {
    if (typeof explicit === 'number' && explicit > 0) return explicit;
    const left = remainingMs();
    if (left !== null) return left;
    const server = serverSettings(role, this.guard.timeouts).statement_timeout;
    return server > 0 ? server + CLIENT_GRACE_MS : null;
  }

  private async guarded(config: unknown, values: unknown): Promise<pg.QueryResult> {
    const role = dbContext()?.role ?? this.guard.role;
    let text = config;
    let explicit: number | undefined;
    // An explicit query_timeout is this class's to enforce (pg's own leaves the connection busy).
    if (config && typeof config === 'object' && 'query_timeout' in config) {
      const { query_timeout, ...rest } = config as { query_timeout?: number };
      explicit = query_timeout;
      text = rest;
    }
    const limit = this.limitFor(role, explicit);
    if (limit !== null && limit <= 0) {
      dbTimeouts.inc({ pool: this.guard.pool });
      throw new DatabaseTimeoutError('the request ran out of time for the database before this statement (DB_REQUEST_TIMEOUT_MS)');
    }
    this.alignSession(role);
    const sentAt = Date.now();
    this.busySince = sentAt;
    const pending = super.query(text as pg.QueryConfig, values as unknown[]) as unknown as Promise<pg.QueryResult>;
    let timer: NodeJS.Timeout | undefined;
    try {
      const result =
        limit === null
          ? await pending
          : await Promise.race([
              pending,
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new DatabaseTimeoutError(`PostgreSQL did not answer within ${Math.round(limit)} ms`)), limit);
              }),
            ]);
      this.lastAnswerAt = Date.now();
      this.guard.monitor?.succeeded(this.guard.pool);
      return result;
    } catch (err) {
      if (err instanceof DatabaseTimeoutError) {
        pending.catch(() => undefined);
        dbTimeouts.inc({ pool: this.guard.pool });
        this.abandon();
      } else if ((err as { code?: unknown })?.code && !isDatabaseUnavailable(err)) {
        // The server answered (a constraint, a syntax error): it is up.
        this.lastAnswerAt = Date.now();
        this.guard.monitor?.succeeded(this.guard.pool);
      }
      if (isDatabaseUnavailable(err)) this.guard.monitor?.failed(this.guard.pool, err, sentAt);
      throw err;
    } finally {
      clearTimeout(timer);
      this.busySince = null;
    }
  }

  /**
   * A connection opened for one role that runs another role's statement (ROLE=all: one pool
   * serves requests and workers) first gets that role's settings, with one SET sent just before
   * the statement. Only while the session is idle and nothing is queued: inside a transaction the
   * setting its first statement ran under stays (a SET there would also be undone by a rollback).
   */
  private alignSession(role: DbRole): void {
    if (role === this.sessionRole) return;
    const self = this as unknown as { _getActiveQuery(): unknown; _queryQueue: unknown[] };
    if (self._getActiveQuery() || self._queryQueue.length > 0 || this.getTransactionStatus() !== 'I') return;
    const s = serverSettings(role, this.guard.timeouts);
    const set = super.query(`SET statement_timeout = ${s.statement_timeout}; SET idle_in_transaction_session_timeout = ${s.idle_in_transaction_session_timeout}`) as unknown as Promise<unknown>;
    set.catch(() => undefined);
    this.sessionRole = role;
  }
}

/**
 * pg's Pool whose wait for a connection ends with the current request's deadline (pg-pool reads
 * connectionTimeoutMillis when connect() is called, so it is narrowed for that one call).
 */
export class GuardedPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: any): any {
    const left = remainingMs();
    if (left === null) return callback ? super.connect(callback) : super.connect();
    if (left <= 0) {
      dbTimeouts.inc({ pool: (this.options as { guard?: Guard }).guard?.pool ?? 'data_source' });
      const err = new DatabaseTimeoutError('the request ran out of time for the database while waiting for a connection (DB_REQUEST_TIMEOUT_MS)');
      if (callback) return void process.nextTick(() => callback(err, undefined, () => undefined));
      return Promise.reject(err);
    }
    const options = this.options as { connectionTimeoutMillis?: number };
    const configured = options.connectionTimeoutMillis;
    options.connectionTimeoutMillis = Math.max(1, Math.ceil(configured ? Math.min(configured, left) : left));
    try {
      return callback ? super.connect(callback) : super.connect();
    } finally {
      options.connectionTimeoutMillis = configured;
    }
  }
}

/** The pg module for TypeORM's `driver` option: the same pg, with the guarded pool. */
export const guardedPg: typeof pg = Object.assign(Object.create(pg) as typeof pg, { Pool: GuardedPool });

/**
 * Options for a pool or client of the gateway: the guarded client, keepalive, the time allowed
 * for a new connection or a free one, and the guard.
 */
export function guardedOptions(guard: Guard): { Client: typeof GuardedClient; guard: Guard; connectionTimeoutMillis: number } {
  const { requestMs, workerStatementMs } = guard.timeouts;
  return { Client: GuardedClient, guard, connectionTimeoutMillis: guard.role === 'api' ? requestMs : Math.min(workerStatementMs, 10_000) };
}
