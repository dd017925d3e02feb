/** Why a wait at a SlotGate ended. */
export type SlotWake = 'freed' | 'poll' | 'deadline';

/**
 * Where the attempts of one integration wait for a concurrency slot (the slots themselves are
 * rows shared by every worker process; see START_SQL). A slot this process frees wakes the
 * first waiter at once. Slots other processes free send no signal, so the first waiter alone
 * asks again every `pollMs`; when such an ask wins a slot, the caller nudges the next waiter,
 * which asks too, and so on until one finds none. So N waiting attempts cost one statement per
 * poll, not N.
 */
export class SlotGate {
  private readonly queue: Array<(why: SlotWake) => void> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pollMs: number) {}

  get waiting(): number {
    return this.queue.length;
  }

  /** Until a slot is freed for this waiter, its turn to poll comes, or `ms` pass. */
  wait(ms: number): Promise<SlotWake> {
    return new Promise((resolve) => {
      const wake = (why: SlotWake) => {
        clearTimeout(deadline);
        const i = this.queue.indexOf(wake);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(why);
        this.arm();
      };
      const deadline = setTimeout(() => wake('deadline'), ms);
      this.queue.push(wake);
      this.arm();
    });
  }

  /** This process freed `count` slots (committed): as many waiters, first in line first, ask again. */
  freed(count: number): void {
    for (let k = 0; k < count && this.queue.length > 0; k++) this.queue[0]('freed');
  }

  /** A poll won a slot, so others may be free too: the next waiter asks now. */
  nudge(): void {
    this.queue[0]?.('poll');
  }

  /** The first waiter polls after pollMs (one timer per gate, while anyone waits). */
  private arm(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.queue.length > 0) this.queue[0]('poll');
    }, this.pollMs);
    this.timer.unref();
  }
}
