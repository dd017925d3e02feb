/** A leased instant this much in the past is dropped, not used (see RateLease). */
export const LEASE_SLACK_MS = 25;
/** A reservation covers about this long of the process's recent demand. */
export const LEASE_SPAN_MS = 100;

interface Waiter {
  resolve: (waitMs: number) => void;
  reject: (err: unknown) => void;
}

/**
 * One process's share of an integration's rate-limit schedule. The schedule itself is shared by
 * every worker process (`reserve(n)` takes the next `n` instants, `intervalMs` apart, and returns
 * the wait until the first); this class reserves instants in blocks sized to what the process
 * used in the last LEASE_SPAN_MS, and hands them out one per request, so a busy worker runs one
 * reservation statement per block instead of one per request.
 *
 * Why the limit still holds: every instant is reserved once, across all processes, and a request
 * goes no earlier than its instant and no later than LEASE_SLACK_MS after it (older instants are
 * dropped unused). So any window of W ms sees at most the instants of W + LEASE_SLACK_MS, which the
 * pacer's headroom (instants at 95% of the rate) covers for windows of a second. Dropped instants
 * are capacity lost, never a burst.
 */
export class RateLease {
  private instants: number[] = [];
  private readonly waiting: Waiter[] = [];
  private busy = false;
  private bucketStart = 0;
  private inBucket = 0;
  private lastBucket = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly reserve: (n: number) => Promise<number>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The wait in ms until this request's instant. */
  take(): Promise<number> {
    const now = this.now();
    this.count(now);
    const instant = this.leased(now);
    if (instant !== null) return Promise.resolve(Math.max(0, instant - now));
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.busy) void this.refill();
    });
  }

  /** Requests in the current and the last LEASE_SPAN_MS. */
  private count(now: number): void {
    if (now - this.bucketStart >= LEASE_SPAN_MS) {
      this.lastBucket = now - this.bucketStart >= 2 * LEASE_SPAN_MS ? 0 : this.inBucket;
      this.bucketStart = now;
      this.inBucket = 0;
    }
    this.inBucket++;
  }

  private leased(now: number): number | null {
    while (this.instants.length > 0 && this.instants[0] < now - LEASE_SLACK_MS) this.instants.shift();
    return this.instants.shift() ?? null;
  }

  private async refill(): Promise<void> {
    this.busy = true;
    try {
      while (this.waiting.length > 0) {
        let instant: number | null;
        while (this.waiting.length > 0 && (instant = this.leased(this.now())) !== null) {
          this.waiting.shift()!.resolve(Math.max(0, instant - this.now()));
        }
        if (this.waiting.length === 0) break;
        const batch = this.waiting.splice(0);
        // What the last span used, at most one span of the schedule, and never fewer than are waiting.
        const block = Math.max(batch.length, Math.min(Math.max(this.lastBucket, this.inBucket), Math.floor(LEASE_SPAN_MS / this.intervalMs)));
        try {
          const first = this.now() + (await this.reserve(block));
          const instants = Array.from({ length: block }, (_, i) => first + i * this.intervalMs);
          const now = this.now();
          batch.forEach((w, i) => w.resolve(Math.max(0, instants[i] - now)));
          this.instants = instants.slice(batch.length);
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
