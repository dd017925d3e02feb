import type { Logger } from 'pino';
import type { DatabaseAvailability } from '../db/availability.js';
import { DatabaseTimeoutError } from '../db/db-errors.js';
import { DEFAULT_DB_TIMEOUTS, GuardedClient, type DbTimeouts } from '../db/guarded-client.js';
import { dbReconnects } from '../observability/metrics.js';

export interface PgListener {
  /** True while the LISTEN connection is up and answering: only then may a cache rely on its messages. */
  readonly connected: boolean;
  close(): Promise<void>;
}

export interface ListenOptions {
  timeouts?: DbTimeouts;
  /** Told when the connection fails; its `recovered` event makes a waiting reconnect try at once. */
  monitor?: DatabaseAvailability | null;
}

/**
 * How often the LISTEN connection is asked a `SELECT 1`. An idle LISTEN connection says nothing
 * when the server stalls or the network drops it silently (a failover, a cut): without asking,
 * it would wait for TCP keepalive, tens of seconds.
 */
const HEARTBEAT_EVERY_MS = 1_000;
/** A heartbeat unanswered this long makes the connection count as down, and a new one is opened. */
const HEARTBEAT_TIMEOUT_MS = 2_000;
/**
 * The unanswered heartbeat's connection is kept meanwhile: a server that only stalled answers
 * on it afterwards, with every notification it queued (a new connection would miss those). It is
 * closed once a new connection is listening, or after this long without an answer.
 */
const HEARTBEAT_GIVE_UP_MS = 30_000;
/** Connecting and issuing LISTEN, each. */
const CONNECT_TIMEOUT_MS = 2_000;
/**
 * Between failed attempts. Attempts are cheap (a refused or timed-out connect), and recovery
 * within 2 s of the server accepting connections is the target (ADR 0010): no growing backoff.
 */
const RETRY_MS = 250;

/**
 * LISTEN on one channel over a dedicated connection that heals itself (ADR 0010): a lost
 * connection, or one that stops answering its heartbeat, is replaced, trying every 250 ms (and at
 * once when the availability monitor sees the database back). `onState(false)` is called as soon
 * as the connection is lost or silent, before any reconnect, so that whoever relies on the
 * messages (a cache, subscribers) stops relying on them at once; `onState(true)` once a
 * connection listens and answers again.
 */
export async function listen(
  connectionString: string,
  channel: string,
  onMessage: (payload: string) => void,
  onState: (connected: boolean) => void,
  log: Logger,
  options: ListenOptions = {},
): Promise<PgListener> {
  const timeouts = options.timeouts ?? DEFAULT_DB_TIMEOUTS;
  const monitor = options.monitor ?? null;
  let primary: GuardedClient | null = null;
  let connected = false;
  let closed = false;
  let everConnected = false;
  let reconnecting: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let beating = false;

  const setState = (up: boolean) => {
    if (connected === up) return;
    connected = up;
    onState(up);
  };

  const dropped = (c: GuardedClient, why: string) => {
    if (c !== primary) return;
    primary = null;
    setState(false);
    if (!closed) {
      log.warn({ channel, why }, 'LISTEN connection lost; reconnecting');
      // A server that just ended the session (a restart, a terminated backend) needs a moment.
      void reconnect(RETRY_MS);
    }
  };

  const open = async (): Promise<GuardedClient> => {
    const c = new GuardedClient({
      connectionString,
      application_name: `switchboard-listen-${channel}`,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      guard: { pool: 'listen', role: 'worker', timeouts, monitor },
    });
    c.on('notification', (msg) => {
      if (!closed && msg.channel === channel && msg.payload !== undefined) onMessage(msg.payload);
    });
    c.on('error', () => dropped(c, 'connection error'));
    c.on('end', () => dropped(c, 'connection ended'));
    try {
      await c.connect();
      await c.query({ text: `LISTEN ${channel}`, query_timeout: CONNECT_TIMEOUT_MS });
      return c;
    } catch (err) {
      c.abandon();
      throw err;
    }
  };

  let firstAttempt: () => void = () => undefined;
  const firstDone = new Promise<void>((resolve) => (firstAttempt = resolve));

  const reconnect = (firstWaitMs = 0): Promise<void> =>
    (reconnecting ??= (async () => {
      try {
        for (let attempt = 0; !closed; attempt++) {
          if (attempt === 1) firstAttempt();
          const waitMs = attempt > 0 ? RETRY_MS : firstWaitMs;
          if (waitMs > 0) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, waitMs);
              wake = () => (clearTimeout(timer), resolve());
            });
            wake = null;
            if (closed) return;
          }
          try {
            const c = await open();
            if (closed) return c.abandon();
            // A stalled connection is replaced only now: until here it could still have come back.
            const old = primary;
            primary = c;
            old?.abandon();
            if (everConnected) dbReconnects.inc({ pool: 'listen' });
            everConnected = true;
            setState(true);
            return;
          } catch (err) {
            if (attempt === 0 || attempt % 20 === 0) log.warn({ err, channel, attempt }, 'could not LISTEN; trying again');
          }
          // The stalled connection answered meanwhile: it is healthy again, keep it.
          if (primary && connected) return;
        }
      } finally {
        reconnecting = null;
        firstAttempt();
      }
    })());

  const heartbeat = setInterval(() => {
    const c = primary;
    if (!c || beating || closed) return;
    beating = true;
    const sent = Date.now();
    const late = setTimeout(() => {
      if (c !== primary || closed) return;
      setState(false);
      monitor?.failed('listen', new DatabaseTimeoutError(`the LISTEN connection did not answer within ${HEARTBEAT_TIMEOUT_MS} ms`), sent);
      log.warn({ channel }, 'LISTEN connection silent; opening another');
      void reconnect();
    }, HEARTBEAT_TIMEOUT_MS);
    c.query({ text: 'SELECT 1', query_timeout: HEARTBEAT_GIVE_UP_MS }).then(
      () => {
        if (c === primary && !closed) setState(true);
      },
      () => undefined /* a broken connection ends: 'error'/'end' handle it */,
    ).finally(() => {
      clearTimeout(late);
      beating = false;
    });
  }, HEARTBEAT_EVERY_MS);
  heartbeat.unref();

  const onRecovered = () => wake?.();
  monitor?.on('recovered', onRecovered);

  // Start-up waits for the first attempt only; if it failed, the next ones go on in the background.
  void reconnect();
  await firstDone;
  return {
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      clearInterval(heartbeat);
      monitor?.off('recovered', onRecovered);
      wake?.();
      const c = primary;
      primary = null;
      setState(false);
      if (c) await Promise.race([c.end().catch(() => undefined), new Promise((r) => setTimeout(r, 1_000).unref())]).finally(() => c.abandon());
    },
  };
}
