/**
 * The counting half of the circuit breaker, per process: consecutive failures and the failure
 * ratio over the last calls. Its verdict opens the shared circuit (Integration.circuit in
 * PostgreSQL), which every worker process obeys; a half-open probe closes it again.
 * Only health failures count (timeouts, network errors, 5xx); 4xx and 429 say nothing about health.
 */
export class FailureCounter {
  private consecutive = 0;
  private readonly window: boolean[] = [];

  constructor(
    private readonly consecutiveThreshold: number,
    private readonly windowSize = 20,
    private readonly ratioThreshold = 0.5,
  ) {}

  /** Records an outcome; true when the circuit should open. */
  record(healthy: boolean): boolean {
    this.consecutive = healthy ? 0 : this.consecutive + 1;
    this.window.push(!healthy);
    if (this.window.length > this.windowSize) this.window.shift();
    const failures = this.window.filter(Boolean).length;
    const ratioTripped = this.window.length >= this.windowSize && failures / this.window.length >= this.ratioThreshold;
    return !healthy && (this.consecutive >= this.consecutiveThreshold || ratioTripped);
  }

  reset(): void {
    this.consecutive = 0;
    this.window.length = 0;
  }
}

/** Full jitter (AWS): a random wait in [0, min(cap, base * 2^(attempt-1))). */
export function backoffWithFullJitter(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
