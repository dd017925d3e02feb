import type { Reply } from './fake-server.js';

/** Faults of a fake's webhook sending, settable at run time (POST /__sandbox/webhook-faults). */
export interface WebhookFaults {
  /** Share of acknowledged events sent once more (providers deliver at least once). */
  duplicateRate: number;
  /** Each event waits a random 0 to 300 ms before its first post: events arrive in any order. */
  shuffle: boolean;
}

/**
 * How a fake posts its webhooks, as providers do: each event retried a few times (growing
 * backoff) when not answered 2xx; with faults, sent in any order and some twice. Counts what it
 * still has to send, so a caller can wait until the fake is quiet.
 */
export class WebhookPoster {
  faults: WebhookFaults = { duplicateRate: 0, shuffle: false };
  /** Posts waiting (retries, delayed or duplicated copies) or under way: 0 when nothing more will be sent. */
  inFlight = 0;

  constructor(private readonly random: () => number) {}

  /**
   * Sends one event. `post` makes one attempt (signing it at that moment) and answers the HTTP
   * status (0 when there was no answer); `answered` hears each attempt's status.
   */
  send(post: (attempt: number) => Promise<number>, answered: (status: number) => void): void {
    const attempt = async (n: number): Promise<void> => {
      this.inFlight++;
      const status = await post(n);
      answered(status);
      if ((status < 200 || status >= 300) && n < 3) this.later(200 * 2 ** n, () => attempt(n + 1));
      else if (status >= 200 && status < 300 && this.random() < this.faults.duplicateRate) this.later(20 + this.random() * 200, () => attempt(n));
      this.inFlight--;
    };
    if (this.faults.shuffle) this.later(this.random() * 300, () => attempt(0));
    else setImmediate(() => void attempt(0));
  }

  private later(ms: number, send: () => Promise<void>): void {
    this.inFlight++;
    setTimeout(() => {
      this.inFlight--;
      void send();
    }, ms).unref();
  }

  /** `POST /__sandbox/webhook-faults {"duplicateRate"?,"shuffle"?}`, and GET it (with what is in flight). */
  control(method: string, path: string, body: unknown): Reply | undefined {
    if (method === 'POST' && path === '/__sandbox/webhook-faults') {
      this.faults = { ...this.faults, ...(body as Partial<WebhookFaults>) };
      return { status: 200, body: this.faults };
    }
    if (method === 'GET' && path === '/__sandbox/webhook-faults') return { status: 200, body: { ...this.faults, inFlight: this.inFlight } };
    return undefined;
  }

  reset(): void {
    this.faults = { duplicateRate: 0, shuffle: false };
  }
}
