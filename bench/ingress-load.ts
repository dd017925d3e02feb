/**
 * The load side of `bench:ingress`, as its own process so it does not share the measured
 * process's event loop. Mode `http`: 50 clients post distinct signed Stripe events to the
 * ingress. Mode `pg`: 50 clients INSERT the same rows through pg, one statement each.
 * Prints one JSON line: { ok, failed, seconds, latencies: { p50, p99 } }.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import pg from 'pg';
import { stripeSignature } from '../src/providers/stripe/signature.js';

const [mode, target, secretOrIntegration, clientsArg, secondsArg] = process.argv.slice(2);
const clients = Number(clientsArg);
const seconds = Number(secondsArg);
const prefix = randomUUID().slice(0, 8);
let counter = 0;

function event(): { id: string; body: string } {
  const id = `evt_${prefix}${(counter++).toString(36).padStart(8, '0')}`;
  const created = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created,
    data: { object: { id: `cus_${prefix}${counter}`, object: 'customer', email: `bench${counter}@example.com`, name: 'Bench Customer', livemode: false, metadata: {} } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'customer.updated',
  });
  return { id, body };
}

const latencies: number[] = [];
let ok = 0;
let failed = 0;
const deadline = Date.now() + seconds * 1000;

if (mode === 'http') {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const post = (body: string, signature: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'stripe-signature': signature } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < deadline) {
        const { body } = event();
        const t = Math.floor(Date.now() / 1000);
        const started = performance.now();
        const status = await post(body, `t=${t},v1=${stripeSignature(secretOrIntegration, t, body)}`).catch(() => 0);
        latencies.push(performance.now() - started);
        if (status === 200) ok++;
        else failed++;
      }
    }),
  );
  agent.destroy();
} else {
  const pool = new pg.Pool({ connectionString: target, max: clients });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < deadline) {
        const { id, body } = event();
        const started = performance.now();
        try {
          await pool.query(
            `INSERT INTO webhook_event (id, integration_id, provider, external_event_id, event_type, body, occurred_at, correlation_id)
             VALUES ($1, $2, 'STRIPE', $3, 'customer.updated', $4, now(), $5)`,
            [randomUUID(), secretOrIntegration, id, body, randomUUID()],
          );
          ok++;
        } catch {
          failed++;
        }
        latencies.push(performance.now() - started);
      }
    }),
  );
  await pool.end();
}

latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(JSON.stringify({ ok, failed, seconds, latencies: { p50: at(0.5), p99: at(0.99) } }) + '\n');
