import pg from 'pg';
import type { Logger } from 'pino';

export interface PgListener {
  /** True while the LISTEN connection is up: only then may a cache rely on its messages. */
  readonly connected: boolean;
  close(): Promise<void>;
}

/**
 * LISTEN on one channel over a dedicated connection, reconnecting with backoff when it drops.
 * `onState(false)` is called as soon as the connection is lost, before any reconnect, so that
 * whoever relies on the messages (a cache) stops relying on them at once.
 */
export async function listen(
  connectionString: string,
  channel: string,
  onMessage: (payload: string) => void,
  onState: (connected: boolean) => void,
  log: Logger,
): Promise<PgListener> {
  let client: pg.Client | null = null;
  let connected = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const setState = (up: boolean) => {
    if (connected === up) return;
    connected = up;
    onState(up);
  };

  const connect = async (attempt: number): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({ connectionString, application_name: `switchboard-listen-${channel}` });
    const lost = () => {
      if (client !== c) return;
      client = null;
      setState(false);
      if (!closed) timer = setTimeout(() => void connect(1), 250);
    };
    c.on('error', (err) => {
      log.warn({ err, channel }, 'listen connection error');
      lost();
    });
    c.on('end', lost);
    c.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload !== undefined) onMessage(msg.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      if (closed) {
        // close() ran while this attempt was connecting: do not come back to life.
        await c.end().catch(() => undefined);
        return;
      }
      client = c;
      setState(true);
    } catch (err) {
      await c.end().catch(() => undefined);
      const wait = Math.min(250 * 2 ** attempt, 10_000);
      log.warn({ err, channel, wait }, 'could not LISTEN; trying again');
      if (!closed) timer = setTimeout(() => void connect(attempt + 1), wait);
    }
  };

  await connect(0);
  return {
    get connected() {
      return connected;
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      setState(false);
      await c?.end().catch(() => undefined);
    },
  };
}
