import type { DataSource } from 'typeorm';
import { prepared } from '../db/prepared.js';
import { RateLease } from './rate-lease.js';

/** Requests are paced at 95% of an integration's rate, so jitter never pushes a second over it. */
export const RATE_HEADROOM = 0.95;

export const paceIntervalMs = (requestsPerSecond: number) => 1000 / (requestsPerSecond * RATE_HEADROOM);

/**
 * Reserves the integration's next $3 rate-limit instants (GCRA: 1/rate apart, across all
 * processes) and returns the wait until the first ($1 integration, $2 spacing in ms); the others
 * follow it $2 apart. Its own short statement: every reservation of an integration updates this
 * one row, so its lock must be held for no longer than this.
 */
export const RESERVE_SQL = `INSERT INTO integration_throttle (integration_id, tat) VALUES ($1, clock_timestamp() + $3::int * $2::float8 * interval '1 ms')
  ON CONFLICT (integration_id) DO UPDATE SET tat = GREATEST(integration_throttle.tat, clock_timestamp()) + $3::int * $2::float8 * interval '1 ms'
  RETURNING EXTRACT(EPOCH FROM (tat - clock_timestamp())) * 1000 - $3::int * $2::float8 AS wait_ms`;

/**
 * An integration's shared rate limit, for callers besides the outbound worker's calls (sync
 * runs, rehydrate): the same schedule, so provider calls and polls together stay under it.
 */
export class SharedRate {
  private readonly leases = new Map<string, RateLease>();

  constructor(private readonly db: DataSource) {}

  /** Waits for the integration's next instant. */
  async take(integrationId: string, requestsPerSecond: number): Promise<void> {
    const intervalMs = paceIntervalMs(requestsPerSecond);
    const key = `${integrationId}:${intervalMs}`;
    let lease = this.leases.get(key);
    if (!lease) {
      lease = new RateLease(intervalMs, async (n) => {
        const [row] = await prepared<{ wait_ms: number }>(this.db, 'switchboard_outbound_reserve_n', RESERVE_SQL, [integrationId, intervalMs, n]);
        return Number(row.wait_ms);
      });
      this.leases.set(key, lease);
    }
    const wait = await lease.take();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}
