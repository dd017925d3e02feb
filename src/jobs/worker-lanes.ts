/** Weight of the newest call in an integration's expected call duration (an exponential average). */
const EXPECTED_WEIGHT = 0.3;
/** The window of `share()`. */
export const SHARE_WINDOW_MS = 60_000;
/** How often the busy time is sampled for `share()`. */
export const SHARE_SAMPLE_MS = 1_000;

/**
 * What one worker process holds of one integration: its queue entries (fetched, waiting for a
 * place, or holding one), how long its calls take here, and how much worker time they used.
 */
export class Lane {
  /** Queue entry id -> since when it holds a worker place (performance.now()), null while it waits for one. */
  readonly entries = new Map<string, number | null>();
  /** Entries whose call has reserved its first rate-limit instant. */
  readonly paced = new Set<string>();
  /** Exponential average of this integration's call durations in this process (null: none finished yet). */
  expectedMs: number | null = null;
  /** Place time of the entries that released their place (ms). */
  releasedMs = 0;

  get running(): number {
    let n = 0;
    for (const since of this.entries.values()) if (since !== null) n++;
    return n;
  }

  /** Entries waiting for a worker place. */
  get ready(): number {
    return this.entries.size - this.running;
  }

  /** Entries that have not yet reserved a rate-limit instant (the fetch counts them against the rate's room). */
  get unpaced(): number {
    return this.entries.size - this.paced.size;
  }

  /** A call took `ms`: the expected duration moves towards it. */
  observe(ms: number): void {
    this.expectedMs = this.expectedMs === null ? ms : this.expectedMs + EXPECTED_WEIGHT * (ms - this.expectedMs);
  }

  /**
   * The worker time the entries hold, as the in-flight budget counts it: each its expected
   * duration (`fallbackMs`, the integration's timeout, before any call finished here), or the
   * time it has held its place if that is longer. A call that suddenly hangs counts what it
   * really holds, so no more are started while it runs.
   */
  charge(now: number, fallbackMs: number): number {
    const expected = this.expectedMs ?? fallbackMs;
    let total = 0;
    for (const since of this.entries.values()) total += since === null ? expected : Math.max(expected, now - since);
    return total;
  }

  /** How many more entries the budget lets this process take; one at least when it holds none. */
  room(now: number, budgetMs: number, fallbackMs: number): number {
    const expected = Math.max(1, this.expectedMs ?? fallbackMs);
    if (this.entries.size === 0) return Math.max(1, Math.floor(budgetMs / expected));
    return Math.max(0, Math.floor((budgetMs - this.charge(now, fallbackMs)) / expected));
  }

  /** Place time used so far (ms): released entries, and those holding a place now up to `now`. */
  busy(now: number): number {
    let total = this.releasedMs;
    for (const since of this.entries.values()) if (since !== null) total += now - since;
    return total;
  }
}

/**
 * Every integration's Lane in one worker process, and the busy-time samples from which each
 * integration's share of the worker's time over the last minute is read.
 */
export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  /** Samples of cumulative busy time: when, and per integration. */
  private readonly samples: Array<{ at: number; busy: Map<string, number> }> = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  get(integrationId: string): Lane {
    let lane = this.lanes.get(integrationId);
    if (!lane) this.lanes.set(integrationId, (lane = new Lane()));
    return lane;
  }

  entries(): IterableIterator<[string, Lane]> {
    return this.lanes.entries();
  }

  /** A fetched entry: held, waiting for a place. */
  hold(integrationId: string, entryId: string): void {
    this.get(integrationId).entries.set(entryId, null);
  }

  /** The entry took a worker place. */
  place(integrationId: string, entryId: string): void {
    this.get(integrationId).entries.set(entryId, this.now());
  }

  /** The entry let go of its place (or never took one); returns the place time it held (ms). */
  release(integrationId: string, entryId: string): number {
    const lane = this.lanes.get(integrationId);
    const since = lane?.entries.get(entryId);
    lane?.entries.delete(entryId);
    lane?.paced.delete(entryId);
    if (!lane || since == null) return 0;
    const ms = this.now() - since;
    lane.releasedMs += ms;
    return ms;
  }

  /** The entry's call reserved its first rate-limit instant. */
  paced(integrationId: string, entryId: string): void {
    const lane = this.lanes.get(integrationId);
    if (lane?.entries.has(entryId)) lane.paced.add(entryId);
  }

  /** Records every integration's busy time so far (run every SHARE_SAMPLE_MS). */
  sample(): void {
    const now = this.now();
    this.samples.push({ at: now, busy: new Map([...this.lanes].map(([id, lane]) => [id, lane.busy(now)])) });
    while (this.samples.length > 1 && now - this.samples[1].at >= SHARE_WINDOW_MS) this.samples.shift();
  }

  /**
   * Each integration's share of the worker's place time over about the last minute: its busy
   * time divided by `places` x the time covered. The shares add up to at most 1; the rest is idle.
   */
  shares(places: number): Map<string, number> {
    const now = this.now();
    const oldest = this.samples[0];
    const span = oldest ? now - oldest.at : 0;
    const out = new Map<string, number>();
    if (span <= 0) return out;
    for (const [id, lane] of this.lanes) out.set(id, Math.max(0, lane.busy(now) - (oldest.busy.get(id) ?? 0)) / (places * span));
    return out;
  }
}
