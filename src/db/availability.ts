import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { dbOutages, dbReconnects, dbState } from '../observability/metrics.js';
import { deadlineIn, withinDeadline } from './deadline.js';
import { isDatabaseUnavailable } from './db-errors.js';
import { GuardedClient, type DbTimeouts, type PoolName } from './guarded-client.js';

/** One incident: from the first failed statement to the first answer after it (epoch ms). */
export interface Incident {
  start: number;
  end: number | null;
}

/** While the database is unavailable, how often it is probed (a new connection and SELECT 1). */
const PROBE_EVERY_MS = 250;
/** A probe's connection and its statement each get this long. */
const PROBE_TIMEOUT_MS = 1_000;
/**
 * After recovery, a statement sent before it that still has no answer this much later is taken
 * to be on a dead connection (the server restarted or moved, and this connection's peer is gone
 * without a word), and its connection is closed: its caller gets an error and retries.
 */
const RECOVERY_GRACE_MS = 1_000;
/** Pools whose silent connections are closed on recovery (the LISTEN connections watch themselves). */
const EVICTABLE = new Set<PoolName>(['data_source', 'prepared', 'queue', 'webhook_writer']);

/**
 * Whether the database answers, as this process sees it (ADR 0010). Every guarded connection
 * reports its successes and failures here. A failure that means "unavailable" (connection lost,
 * timed out, refused) is confirmed by a probe on a fresh connection; if that fails too, an
 * incident starts: `available` turns false (readiness answers 503 at once), `down` is emitted,
 * and the database is probed every 250 ms until it answers. The first answer (a probe, or any
 * statement) ends the incident: `recovered` is emitted (listeners reconnect without waiting for
 * their backoff) and connections that have not answered since the incident began are closed,
 * so none of them waits out a time limit on a server that is gone.
 */
export class DatabaseAvailability extends EventEmitter {
  private up = true;
  private checking: Promise<void> | null = null;
  private probingLoop = false;
  private closed = false;
  /** Start of the incident under way, or of the failures being checked. */
  private suspectSince: number | null = null;
  lastIncident: Incident | null = null;
  private readonly clients = new Set<GuardedClient>();
  private readonly lostPerPool = new Map<string, number>();
  private readonly state = { available: true, lastIncident: null as Incident | null };

  constructor(
    private readonly connectionString: string,
    private readonly timeouts: DbTimeouts,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
    dbState.monitors.add(this.state);
  }

  get available(): boolean {
    return this.up;
  }

  /** A statement answered on `pool`. */
  succeeded(pool: PoolName): void {
    dbState.lastSuccess.set(pool, Date.now());
    if (!this.up) this.recover(`a statement on ${pool} succeeded`);
  }

  /** A statement or connection on `pool`, sent at `sentAt`, failed with `err`. */
  failed(pool: PoolName, err: unknown, sentAt: number): void {
    if (this.closed || !isDatabaseUnavailable(err)) return;
    this.suspectSince = Math.min(this.suspectSince ?? sentAt, sentAt);
    if (this.up) void this.check(`${pool}: ${(err as Error)?.message ?? String(err)}`);
  }

  /**
   * The database is known to be down (the embedded server exited): no probe needed to believe it.
   */
  markDown(reason: string): void {
    if (this.closed) return;
    this.suspectSince ??= Date.now();
    if (this.up) this.goDown(reason);
  }

  /** Probes now; resolves once the state reflects the probe (for a caller that just fixed something). */
  async probeNow(): Promise<boolean> {
    try {
      await this.probe();
      if (!this.up) this.recover('probe');
      return true;
    } catch {
      return false;
    }
  }

  /** A guarded connection opened; counts it as a reconnect if its pool had lost one. */
  connected(client: GuardedClient): void {
    if (EVICTABLE.has(client.guard.pool)) this.clients.add(client);
    const pool = client.guard.pool;
    const lost = this.lostPerPool.get(pool) ?? 0;
    if (lost > 0) {
      this.lostPerPool.set(pool, lost - 1);
      dbReconnects.inc({ pool });
    }
  }

  /** A pooled connection of `pool` broke (the LISTEN connections count their own reconnects). */
  lost(pool: PoolName): void {
    if (pool === 'listen' || pool === 'probe') return;
    this.lostPerPool.set(pool, (this.lostPerPool.get(pool) ?? 0) + 1);
  }

  forget(client: GuardedClient): void {
    this.clients.delete(client);
  }

  close(): void {
    this.closed = true;
    this.probingLoop = false;
    dbState.monitors.delete(this.state);
  }

  /** One probe confirms or dismisses the failures reported (a slow statement alone is no outage). */
  private check(reason: string): Promise<void> {
    return (this.checking ??= (async () => {
      try {
        await this.probe();
        this.suspectSince = null;
      } catch (err) {
        if (this.up && !this.closed) this.goDown(`${reason}; probe: ${(err as Error)?.message ?? String(err)}`);
      } finally {
        this.checking = null;
      }
    })());
  }

  private goDown(reason: string): void {
    this.up = false;
    const start = this.suspectSince ?? Date.now();
    this.lastIncident = { start, end: null };
    this.state.available = false;
    this.state.lastIncident = this.lastIncident;
    dbOutages.inc();
    this.log.warn({ reason }, 'the database is unavailable: requests answer 503 SERVICE_UNAVAILABLE until it is back');
    this.emit('down', this.lastIncident);
    void this.probeUntilUp();
  }

  private async probeUntilUp(): Promise<void> {
    if (this.probingLoop) return;
    this.probingLoop = true;
    try {
      while (!this.up && !this.closed) {
        const started = Date.now();
        try {
          await this.probe();
          this.recover('probe');
          return;
        } catch {
          await new Promise((r) => setTimeout(r, Math.max(0, PROBE_EVERY_MS - (Date.now() - started))));
        }
      }
    } finally {
      this.probingLoop = false;
    }
  }

  private recover(via: string): void {
    if (this.up) return;
    this.up = true;
    const incident = this.lastIncident ?? { start: Date.now(), end: null };
    incident.end = Date.now();
    this.suspectSince = null;
    this.state.available = true;
    this.log.info({ via, unavailableMs: incident.end - incident.start }, 'the database is available again');
    this.closeSilentConnections(incident.start);
    this.emit('recovered', incident);
  }

  /** Connections with no answer since `since`: idle ones now, busy ones after RECOVERY_GRACE_MS. */
  private closeSilentConnections(since: number): void {
    const recoveredAt = Date.now();
    let closed = 0;
    for (const client of this.clients) {
      if (client.lastAnswerAt >= since) continue;
      if (client.busySince === null) {
        client.abandon();
        closed++;
      } else {
        const busySince = client.busySince;
        setTimeout(() => {
          if (client.busySince === busySince && client.lastAnswerAt < recoveredAt) client.abandon();
        }, RECOVERY_GRACE_MS).unref();
      }
    }
    if (closed > 0) this.log.debug({ closed }, 'closed connections that had not answered since the incident began');
  }

  /** A new connection and SELECT 1, each within PROBE_TIMEOUT_MS. */
  private async probe(): Promise<void> {
    const client = new GuardedClient({
      connectionString: this.connectionString,
      application_name: 'switchboard-probe',
      connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      guard: { pool: 'probe', role: 'worker', timeouts: this.timeouts, monitor: null },
    });
    try {
      await client.connect();
      await client.query({ text: 'SELECT 1', query_timeout: PROBE_TIMEOUT_MS });
    } catch (err) {
      client.abandon();
      throw err;
    }
    // Not awaited: a server that stalls right now must not hold the probe.
    client.end().catch(() => undefined);
  }
}

/** What /readyz may spend on the database before it answers (it must answer within a second). */
export const READY_BUDGET_MS = 800;

/**
 * Readiness that answers within a second whatever the database does: false at once while an
 * incident is under way; otherwise `check` (given READY_BUDGET_MS for its statements) if it
 * answers within that budget.
 */
export async function boundedReadiness(monitor: DatabaseAvailability, check: (budgetMs: number) => Promise<boolean>): Promise<boolean> {
  if (!monitor.available) return false;
  return withinDeadline(check(READY_BUDGET_MS), deadlineIn(READY_BUDGET_MS + 100)).catch(() => false);
}
