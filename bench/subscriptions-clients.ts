/**
 * One subscriber process of `bench:subscriptions` (the load generator is split over several
 * processes, so that reading a thousand sockets in one event loop does not become the latency
 * being measured). Started with IPC by bench/subscriptions.ts:
 *
 *   node subscriptions-clients.js <count> <integrationId> <ws url>...
 *
 * Subscribers alternate over the URLs. The parent gets `{ ready }` once every subscriber is
 * connected; it asks `{ count }` (deliveries so far), `{ reset }` (forget them), `{ report }` (the
 * latencies since the reset, ms from the job's updatedAt to this process's receipt, all and by
 * job status) and `{ stop }`.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const [count, integrationId, ...urls] = process.argv.slice(2);
const key = process.env.BENCH_API_KEY!;
const send = (message: unknown) => process.send!(message);

let latencies: number[] = [];
let byStatus: Record<string, number[]> = {};
const clients: Client[] = [];
let connected = 0;

for (let i = 0; i < Number(count); i++) {
  const client = createClient({
    url: urls[i % urls.length],
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${key}` },
    onNonLazyError: (err) => {
      console.error('subscriber could not connect', err);
      process.exit(1);
    },
  });
  client.on('connected', () => {
    if (++connected === Number(count)) send({ ready: true });
  });
  client.subscribe<{ integrationJobUpdated: { status: string; updatedAt: string } }>(
    { query: 'subscription($f: IntegrationEventFilter) { integrationJobUpdated(filter: $f) { id status updatedAt } }', variables: { f: { integrationId } } },
    {
      next: (value) => {
        const job = value.data!.integrationJobUpdated;
        const ms = Date.now() - Date.parse(job.updatedAt);
        latencies.push(ms);
        (byStatus[job.status] ??= []).push(ms);
      },
      error: (err) => console.error('subscription error', err),
      complete: () => {},
    },
  );
  clients.push(client);
}

process.on('message', async (message: { count?: true; reset?: true; report?: true; stop?: true }) => {
  if (message.count) send({ count: latencies.length });
  if (message.reset) {
    latencies = [];
    byStatus = {};
    send({ reset: true });
  }
  if (message.report) send({ report: { latencies, byStatus } });
  if (message.stop) {
    await Promise.all(clients.map((c) => c.dispose()));
    process.exit(0);
  }
});
