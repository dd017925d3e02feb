import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';

/**
 * The channel an ingress NOTIFYs after a commit that stored events, and processors LISTEN on to
 * fetch at once instead of at their next poll.
 */
export const INBOUND_CHANNEL = 'switchboard_inbound';

/**
 * Wakes the webhook processors (any process) after the ingress stored events. The NOTIFY is its
 * own statement after the commit, never inside it: a notifying transaction holds PostgreSQL's
 * global notify lock through its commit, which serialised the ingress's commits (ADR 0007). At
 * most one is in flight; commits that end meanwhile are covered by one more after it. It carries
 * nothing: a processor that misses it (its LISTEN connection down) finds the events at its next
 * poll, as before.
 */
export class InboundWake {
  private inFlight = false;
  private again = false;

  constructor(
    private readonly db: DataSource,
    private readonly log: Logger,
  ) {}

  poke(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    this.db
      .query(`SELECT pg_notify('${INBOUND_CHANNEL}', '')`)
      .catch((err: unknown) => this.log.debug({ err }, 'waking the webhook processors failed; they poll'))
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }
}
