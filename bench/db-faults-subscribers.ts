/**
 * The subscribers of `bench:db-faults`, in a process of their own (200 sockets read in the
 * orchestrator's event loop would delay the request timings it measures). Started with IPC by
 * bench/db-faults.ts:
 *
 *   node db-faults-subscribers.js <count> <integrationId> <ws url>
 *
 * Each subscriber watches `integrationJobUpdated` for the integration and never reconnects: a
 * subscription that stops receiving stays stopped, and is counted. The parent gets `{ ready }`
 * once all are subscribed, asks `{ completed: jobId }` (how many have seen that job COMPLETED) and
 * `{ report }` (each one's receive times, errors and close), then `{ stop }`.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const [count, integrationId, url] = process.argv.slice(2);
const key = process.env.BENCH_API_KEY!;
const send = (message: unknown) => process.send!(message);

interface Watcher {
  received: number[];
  completed: Set<string>;
  errors: Array<{ at: number; code: string }>;
  closed: { at: number; code: number } | null;
}

const watchers: Watcher[] = [];
const clients: Client[] = [];
let connected = 0;
let acknowledged = 0;

for (let i = 0; i < Number(count); i++) {
  const watcher: Watcher = { received: [], completed: new Set(), errors: [], closed: null };
  watchers.push(watcher);
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${key}` },
    onNonLazyError: () => undefined,
    on: {
      connected: () => void connected++,
      closed: (e) => {
        watcher.closed ??= { at: Date.now(), code: (e as { code: number }).code };
      },
    },
  });
  client.subscribe<{ integrationJobUpdated: { id: string; status: string } }>(
    { query: 'subscription($f: IntegrationEventFilter) { integrationJobUpdated(filter: $f) { id status } }', variables: { f: { integrationId } } },
    {
      next: (value) => {
        const at = Date.now();
        for (const e of value.errors ?? []) watcher.errors.push({ at, code: String((e as { extensions?: { code?: unknown } }).extensions?.code) });
        const job = value.data?.integrationJobUpdated;
        if (!job) return;
        watcher.received.push(at);
        if (job.status === 'COMPLETED') watcher.completed.add(job.id);
      },
      error: (err) => watcher.errors.push({ at: Date.now(), code: `terminated: ${String((err as Error)?.message ?? err)}` }),
      complete: () => undefined,
    },
  );
  clients.push(client);
}

const ready = setInterval(() => {
  if (connected === Number(count)) {
    clearInterval(ready);
    send({ ready: true });
  }
}, 20);

process.on('message', async (message: { completed?: string; report?: true; stop?: true; ping?: true }) => {
  if (message.ping) send({ pong: ++acknowledged });
  if (message.completed) send({ completedBy: watchers.filter((w) => w.completed.has(message.completed!)).length });
  if (message.report) send({ watchers: watchers.map((w) => ({ received: w.received, errors: w.errors, closed: w.closed })) });
  if (message.stop) {
    await Promise.all(clients.map((c) => c.dispose()));
    process.exit(0);
  }
});
