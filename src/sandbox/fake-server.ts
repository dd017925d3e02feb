import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Faults a sandbox injects, settable at run time (POST /__sandbox/faults). */
export interface Faults {
  /** Added to every answer. */
  latencyMs: number;
  /** Share of requests answered 500/503 before anything is executed. */
  errorRate: number;
  /** Share of requests that never get an answer (half of them after the work was done). */
  hangRate: number;
  /** Share of requests answered 429 with Retry-After. */
  rateLimitRate: number;
  /** The next N requests are answered 429. */
  burst429: number;
  /** Retry-After sent with a 429, in seconds. */
  retryAfterSeconds: number;
  /** Every request fails with 503. */
  outage: boolean;
  /**
   * Faults for the requests of one credential only (the `Authorization: Bearer` value), over the
   * ones above: several integrations on one fake, each with a provider of its own behaviour
   * (one slow, one hanging, one rate-limited).
   */
  byCredential: Record<string, Partial<CredentialFaults>>;
}

/** The faults one credential can override. */
export type CredentialFaults = Omit<Faults, 'byCredential'>;

export const NO_FAULTS: Faults = { latencyMs: 0, errorRate: 0, hangRate: 0, rateLimitRate: 0, burst429: 0, retryAfterSeconds: 1, outage: false, byCredential: {} };

export interface RecordedRequest {
  /** When the request arrived (ms since the epoch). */
  at: number;
  /** When its answer was sent (null while unanswered, or never for a hang). */
  answeredAt: number | null;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number | null;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What a provider's fake does with a request once faults have had their say. */
export interface ProviderHandler {
  handle(req: RecordedRequest): Reply | Promise<Reply>;
  /** Answer for an injected error, in the provider's error format. */
  errorReply(status: number, message: string): Reply;
  reset(): void;
  state(): unknown;
  /** Where this fake posts its webhooks (POST /__sandbox/webhook {url, secret, dropRate}; Salesforce's needs no secret). */
  setWebhook?(target: { url: string; secret?: string; dropRate?: number } | null): void;
  /** Fills the fake with records that exist before the test (POST /__sandbox/seed {kind: count}); the ids made, per kind. */
  seed?(counts: Record<string, number>): Record<string, string[]>;
  /** This fake's own control endpoints under /__sandbox/ (its JSON body parsed); undefined: not one of them. */
  control?(method: string, path: string, body: unknown): Reply | undefined;
}

export const fakeId = (prefix: string) => `${prefix}${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A local HTTP server speaking one provider's wire format, recording every request, with
 * fault injection. Control endpoints under /__sandbox: GET requests, GET state, POST faults
 * (partial Faults JSON), POST reset.
 */
export class FakeServer<H extends ProviderHandler = ProviderHandler> {
  readonly requests: RecordedRequest[] = [];
  faults: Faults = { ...NO_FAULTS, byCredential: {} };
  private server: Server | null = null;
  private readonly hanging = new Set<ServerResponse>();
  url = '';

  constructor(
    readonly name: string,
    readonly handler: H,
    private readonly random: () => number = Math.random,
  ) {}

  /** Only the keys given change; `byCredential` changes only the credentials it names. */
  setFaults(faults: Partial<Faults>): void {
    this.faults = { ...this.faults, ...faults, byCredential: { ...this.faults.byCredential, ...faults.byCredential } };
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = { ...NO_FAULTS, byCredential: {} };
    this.handler.reset();
  }

  state<T>(): T {
    return this.handler.state() as T;
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sandboxError: String(err) }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    const { port: bound } = this.server.address() as AddressInfo;
    this.url = `http://${host}:${bound}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  private send(res: ServerResponse, reply: Reply, recorded?: RecordedRequest) {
    if (recorded) {
      recorded.status = reply.status;
      recorded.answeredAt = Date.now();
    }
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    if (body) headers['content-type'] = 'application/json';
    res.writeHead(reply.status, headers);
    res.end(body);
  }

  private hang(res: ServerResponse) {
    this.hanging.add(res);
    res.on('close', () => this.hanging.delete(res));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const path = req.url ?? '/';
    if (path.startsWith('/__sandbox/')) return this.control(req.method ?? 'GET', path, body, res);

    const recorded: RecordedRequest = { at: Date.now(), answeredAt: null, method: req.method ?? 'GET', path, headers: req.headers, body, status: null };
    this.requests.push(recorded);
    const credential = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const own = credential === undefined ? undefined : this.faults.byCredential[credential];
    const f: CredentialFaults = own ? { ...this.faults, ...own } : this.faults;
    if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (f.outage) return this.send(res, this.handler.errorReply(503, 'service unavailable (sandbox outage)'), recorded);
    if (f.burst429 > 0 || this.random() < f.rateLimitRate) {
      if (f.burst429 > 0) {
        if (own?.burst429 !== undefined) own.burst429--;
        else this.faults.burst429--;
      }
      const reply = this.handler.errorReply(429, 'too many requests (sandbox)');
      return this.send(res, { ...reply, headers: { ...reply.headers, 'retry-after': String(f.retryAfterSeconds) } }, recorded);
    }
    if (this.random() < f.hangRate) {
      if (this.random() < 0.5) {
        // The work is done, the answer is lost: the client must retry with the same key.
        await this.handler.handle(recorded);
      }
      return this.hang(res);
    }
    if (this.random() < f.errorRate) return this.send(res, this.handler.errorReply(this.random() < 0.5 ? 500 : 503, 'internal error (sandbox)'), recorded);
    this.send(res, await this.handler.handle(recorded), recorded);
  }

  private control(method: string, path: string, body: string, res: ServerResponse) {
    if (method === 'GET' && path === '/__sandbox/requests') return this.send(res, { status: 200, body: this.requests });
    if (method === 'GET' && path === '/__sandbox/state') return this.send(res, { status: 200, body: this.handler.state() });
    if (method === 'POST' && path === '/__sandbox/faults') {
      this.setFaults(body ? (JSON.parse(body) as Partial<Faults>) : {});
      return this.send(res, { status: 200, body: this.faults });
    }
    if (method === 'POST' && path === '/__sandbox/webhook' && this.handler.setWebhook) {
      const target = body ? (JSON.parse(body) as { url?: string; secret?: string; dropRate?: number }) : {};
      this.handler.setWebhook(target.url ? { url: target.url, secret: target.secret, dropRate: Number(target.dropRate ?? 0) } : null);
      return this.send(res, { status: 200, body: { webhook: target.url ?? null } });
    }
    if (method === 'POST' && path === '/__sandbox/seed' && this.handler.seed) {
      const counts = body ? (JSON.parse(body) as Record<string, number>) : {};
      const made = this.handler.seed(counts);
      return this.send(res, { status: 200, body: Object.fromEntries(Object.entries(made).map(([k, ids]) => [k, ids.length])) });
    }
    if (method === 'POST' && path === '/__sandbox/reset') {
      this.reset();
      return this.send(res, { status: 200, body: { reset: true } });
    }
    const own = this.handler.control?.(method, path, body ? (JSON.parse(body) as unknown) : {});
    if (own) return this.send(res, own);
    this.send(res, { status: 404, body: { error: 'unknown sandbox control endpoint' } });
  }
}
