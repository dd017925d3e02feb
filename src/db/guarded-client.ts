import pg from 'pg';
import type { DatabaseAvailability } from './availability.js';
import { DatabaseConnectError, DatabaseTimeoutError, isDatabaseUnavailable } from './db-errors.js';
import { dbConnectionsLost, dbTimeouts } from '../observability/metrics.js';

/**
 * Whose statements a connection runs. Each role has its own statement timeout (ADR 0010): an API
 * request's (DB_REQUEST_TIMEOUT_MS), a worker's (DB_WORKER_STATEMENT_TIMEOUT_MS), a migration's
 * (DB_MIGRATION_TIMEOUT_MS). A pool serves one role.
 */
export type DbRole = 'api' | 'worker' | 'migration';

/** The connection groups the gateway keeps, as the metrics name them. */
export type PoolName = 'data_source' | 'prepared' | 'queue' | 'listen' | 'webhook_writer' | 'probe';

/** Statement time limits by role (ADR 0010). */
export interface DbTimeouts {
  /** An API request's wait for a connection and for each statement, on both sides (DB_REQUEST_TIMEOUT_MS). */
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
  /** The role of every statement on this connection. */
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
 * How much later than the server's own statement_timeout a worker or a migration gives up on
 * this side: the server's timeout (SQLSTATE 57014) normally ends a slow statement first; this
 * side's only catches a server that cannot answer at all (stalled, unreachable). An API request
 * gives up at its limit: its answer is what is bounded.
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
 * - every statement has a time limit on this side: its role's (for an API request, the request
 *   limit; for a worker or a migration, the statement timeout plus a grace), or an explicit
 *   `query_timeout`; past it the caller gets DatabaseTimeoutError and the connection is destroyed
 *   (a stalled or vanished server cannot be trusted with the next statement, and closing is how
 *   an unfinished transaction is rolled back);
 * - the server enforces the role's statement_timeout and idle_in_transaction_session_timeout
 *   too (sent in the startup packet);
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
  private limitFor(explicit: number | undefined): number | null {
    if (typeof explicit === 'number' && explicit > 0) return explicit;
    const { role, timeouts } = this.guard;
    if (role === 'api') return timeouts.requestMs;
    const server = serverSettings(role, timeouts).statement_timeout;
    return server > 0 ? server + CLIENT_GRACE_MS : null;
  }

  private async guarded(config: unknown, values: unknown): Promise<pg.QueryResult> {
    let text = config;
    let explicit: number | undefined;
    // An explicit query_timeout is this class's to enforce (pg's own leaves the connection busy).
    if (config && typeof config === 'object' && 'query_timeout' in config) {
      const { query_timeout, ...rest } = config as { query_timeout?: number };
      explicit = query_timeout;
      text = rest;
    }
    const limit = this.limitFor(explicit);
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
}

/** pg's Pool, with a `SELECT 1` that has a time limit of its own (readiness). */
export class GuardedPool extends pg.Pool {
  /**
   * A connection from the pool and `SELECT 1` on it, each within `ms`: the wait for the
   * connection is narrowed for this one call (pg-pool reads connectionTimeoutMillis when
   * connect() is called), the statement has its own query_timeout.
   */
  async ping(ms: number): Promise<void> {
    const options = this.options as { connectionTimeoutMillis?: number };
    const configured = options.connectionTimeoutMillis;
    options.connectionTimeoutMillis = Math.max(1, Math.ceil(configured ? Math.min(configured, ms) : ms));
    let connecting: Promise<pg.PoolClient>;
    try {
      connecting = super.connect();
    } finally {
      options.connectionTimeoutMillis = configured;
    }
    const client = await connecting;
    try {
      await client.query({ text: 'SELECT 1', query_timeout: ms } as pg.QueryConfig);
      client.release();
    } catch (err) {
      client.release(err as Error);
      throw err;
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
  // An API request waits at most its limit for a connection; a worker up to 10 s.
  return { Client: GuardedClient, guard, connectionTimeoutMillis: guard.role === 'api' ? requestMs : Math.min(workerStatementMs, 10_000) };
}
