import { isDatabaseUnavailable } from './db-errors.js';

/** First wait between tries; it doubles up to MAX_WAIT_MS. */
const FIRST_WAIT_MS = 100;
/** At most this long between tries: a write lands within about a second of the database coming back. */
const MAX_WAIT_MS = 1_000;

export interface RetryOptions {
  /** Stops retrying (shutdown): the last error is thrown. */
  signal?: AbortSignal;
  /** Gives up after this long in all (default 10 minutes). */
  giveUpAfterMs?: number;
  /** Called after each failure that will be retried. */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Runs `write` until it succeeds, as long as it fails because the database is unavailable (a
 * lost connection, a timeout, a refused connect); any other error is thrown at once. For a
 * worker's record of something that already happened outside the database (a provider call that
 * succeeded): losing it would mean doing it again. `attempt` is 0 on the first run; a later run
 * follows a failure whose commit may or may not have happened, so it should check first.
 */
export async function retryWhileUnavailable<T>(write: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const started = Date.now();
  const giveUpAfter = options.giveUpAfterMs ?? 600_000;
  for (let attempt = 0, wait = FIRST_WAIT_MS; ; attempt++, wait = Math.min(wait * 2, MAX_WAIT_MS)) {
    try {
      return await write(attempt);
    } catch (err) {
      if (!isDatabaseUnavailable(err) || options.signal?.aborted || Date.now() - started + wait > giveUpAfter) throw err;
      options.onRetry?.(err, attempt);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done() {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        }
        options.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
}
