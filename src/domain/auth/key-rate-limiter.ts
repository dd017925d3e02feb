import type { DataSource } from 'typeorm';

/** Share of a key's per-minute limit one process leases at a time: leftovers stay small. */
const LEASE_SHARE = 0.01;
/** After a refusal, this process refuses the key locally for at most this long before asking again. */
const DENIAL_MEMORY_MS = 250;

interface KeyState {
  minute: number;
  tokens: number;
  deniedUntil: number;
  retryAfterSeconds: number;
  leasing: Promise<void> | null;
}

/**
 * `requestsPerMinute` of one API key, across every API process: a sliding window over two
 * one-minute counters in `api_key_usage` (the previous minute's count weighs by the share of it
 * still inside the window). Each process leases a block of 1% of the limit at a time in one
 * statement, under the counter row's lock, and spends it locally, so a busy key costs a
 * statement per block rather than per request, and no two processes can spend the same request.
 * Leased requests a process does not spend before the minute ends are lost (never a burst), so
 * the limit holds and admission is short by at most one block per process.
 */
export class KeyRateLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly db: DataSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** null: the request may go; otherwise the seconds until one more would be allowed. */
  async take(keyId: string, perMinute: number): Promise<number | null> {
    for (;;) {
      const now = this.now();
      const minute = Math.floor(now / 60_000) * 60_000;
      let state = this.keys.get(keyId);
      if (!state) {
        if (this.keys.size > 10_000) this.keys.clear();
        state = { minute, tokens: 0, deniedUntil: 0, retryAfterSeconds: 1, leasing: null };
        this.keys.set(keyId, state);
      }
      if (state.minute !== minute) {
        state.minute = minute;
        state.tokens = 0;
      }
      if (state.tokens > 0) {
        state.tokens--;
        return null;
      }
      if (state.deniedUntil > now) return state.retryAfterSeconds;
      if (state.leasing) {
        await state.leasing;
        continue;
      }
      state.leasing = this.lease(keyId, perMinute, minute, now, state).finally(() => {
        state.leasing = null;
      });
      await state.leasing;
    }
  }

  private async lease(keyId: string, perMinute: number, minute: number, now: number, state: KeyState): Promise<void> {
    const block = Math.max(1, Math.floor(perMinute * LEASE_SHARE));
    // Share of the previous minute still inside the sliding window.
    const carried = 1 - (now - minute) / 60_000;
    // The grant is computed on the row as the upsert locked it, so concurrent leases from any
    // process see each other's counts; `leased` returns it.
    const room = (current: string) =>
      `LEAST($4::int, GREATEST(0, floor($5::float8 - COALESCE((SELECT p.requests FROM api_key_usage p WHERE p.key_id = $1 AND p.minute = $3), 0) * $6::float8 - ${current})))::int`;
    const [row] = (await this.db.query(
      `INSERT INTO api_key_usage AS u (key_id, minute, requests, leased)
       VALUES ($1, $2, ${room('0')}, ${room('0')})
       ON CONFLICT (key_id, minute) DO UPDATE SET requests = u.requests + ${room('u.requests')}, leased = ${room('u.requests')}
       RETURNING u.leased AS leased, u.requests AS current,
                 COALESCE((SELECT p.requests FROM api_key_usage p WHERE p.key_id = $1 AND p.minute = $3), 0) AS previous`,
      [keyId, new Date(minute), new Date(minute - 60_000), block, perMinute, carried],
    )) as Array<{ leased: number; current: number; previous: number }>;
    if (state.minute !== minute) return;
    if (row.leased > 0) {
      state.tokens += row.leased;
      return;
    }
    state.retryAfterSeconds = retryAfterSeconds(perMinute, row.current, row.previous, now - minute);
    state.deniedUntil = now + Math.min(DENIAL_MEMORY_MS, state.retryAfterSeconds * 1000);
  }
}

/** Seconds until the sliding window holds room for one more request. */
export function retryAfterSeconds(perMinute: number, current: number, previous: number, intoMinuteMs: number): number {
  const room = perMinute - 1 - current;
  let waitMs: number;
  if (room >= 0 && previous > 0) {
    // Within this minute, as the previous minute's weight falls.
    const share = 1 - room / previous;
    waitMs = Math.max(0, share * 60_000 - intoMinuteMs);
  } else {
    // From the next minute on, as this minute's weight falls.
    const share = current > 0 ? Math.max(0, 1 - (perMinute - 1) / current) : 0;
    waitMs = 60_000 - intoMinuteMs + share * 60_000;
  }
  return Math.max(1, Math.ceil(waitMs / 1000));
}
