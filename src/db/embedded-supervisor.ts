import type { Logger } from 'pino';
import { embeddedRestarts } from '../observability/metrics.js';
import type { DatabaseAvailability } from './availability.js';
import type { EmbeddedServer } from './embedded-postgres.js';

/**
 * How long restarting may take in all before the gateway gives up. A server killed mid-work
 * leaves its backends to notice and exit (PostgreSQL refuses to start while they still hold its
 * shared memory), and then replays its WAL: both take well under a second here.
 */
const RESTART_BUDGET_MS = 15_000;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;
/**
 * Start failures that pass by themselves: the killed server's backends still hold its shared
 * memory or lock file for a moment, or its port is not free yet. Any other (a damaged data
 * folder, a permission) is final after a second try: retrying for the whole budget would only
 * delay the exit a supervisor needs.
 */
const TRANSIENT_START_FAILURE = /shared memory block|lock file|another postmaster|already in use|could not bind|could not create any TCP|is the port taken/i;
/**
 * The embedded server is running but has not answered for this long: something only a fresh
 * start fixes (a wedged server), and the gateway's liveness fails so a supervisor restarts it
 * (the next start stops the stale server first).
 */
const WEDGED_AFTER_MS = 60_000;

export interface EmbeddedSupervision {
  /** Reasons the gateway cannot recover by itself (for /healthz); empty while it can. */
  failing(): string[];
  stop(): void;
}

/**
 * Self-healing of the embedded PostgreSQL (ADR 0010): when the server exits on its own (killed,
 * crashed, stopped by someone else), it is started again on the same data folder and port, so
 * every pool reconnects to the same URL; PostgreSQL's crash recovery replays the WAL, so nothing
 * committed is lost. If it cannot be started within RESTART_BUDGET_MS, `onGiveUp` is called:
 * the gateway stops and exits non-zero, so its own supervisor (systemd, Kubernetes) starts it again.
 */
export function superviseEmbedded(server: EmbeddedServer, monitor: DatabaseAvailability, log: Logger, onGiveUp: (reason: string) => void): EmbeddedSupervision {
  let stopped = false;
  let fatal: string | null = null;
  let restarting = false;

  server.onUnexpectedExit((how) => {
    if (stopped || restarting) return;
    restarting = true;
    monitor.markDown(`the embedded PostgreSQL exited (${how})`);
    log.error({ how, dataDir: server.dataDir }, 'the embedded PostgreSQL exited; starting it again');
    void restart(how).finally(() => (restarting = false));
  });

  async function restart(how: string): Promise<void> {
    const started = Date.now();
    let lastError: unknown;
    for (let attempt = 0, wait = FIRST_RETRY_MS; !stopped; attempt++, wait = Math.min(wait * 2, MAX_RETRY_MS)) {
      try {
        await server.start();
        embeddedRestarts.inc({ outcome: 'restarted' });
        log.info({ ms: Date.now() - started, attempts: attempt + 1, pid: server.pid }, 'the embedded PostgreSQL is running again');
        // Pools and listeners reconnect on the monitor's recovery, not at their next timeout.
        await monitor.probeNow();
        return;
      } catch (err) {
        lastError = err;
        log.warn({ err, attempt }, 'the embedded PostgreSQL did not start again yet');
        if (attempt >= 1 && !TRANSIENT_START_FAILURE.test((err as Error)?.message ?? '')) break;
      }
      if (Date.now() - started + wait > RESTART_BUDGET_MS) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    if (stopped) return;
    embeddedRestarts.inc({ outcome: 'failed' });
    fatal = `the embedded PostgreSQL exited (${how}) and could not be started again: ${(lastError as Error)?.message ?? String(lastError)}`;
    log.fatal({ err: lastError, dataDir: server.dataDir }, 'the embedded PostgreSQL could not be started again; stopping so that a supervisor restarts the gateway');
    onGiveUp(fatal);
  }

  return {
    failing() {
      if (fatal) return [fatal];
      const incident = monitor.lastIncident;
      if (!monitor.available && server.running && incident && Date.now() - incident.start > WEDGED_AFTER_MS) {
        return [`the embedded PostgreSQL is running but has not answered for ${Math.round((Date.now() - incident.start) / 1000)} s`];
      }
      return [];
    },
    stop() {
      stopped = true;
    },
  };
}
