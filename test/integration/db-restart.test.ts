import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { CreateIntegrationDocument } from '../generated/graphql.js';
import { scrapeMetrics, startTestGateway, testEnv } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { MAIN, spawnMain, stopSpawned, until } from '../support/processes.js';
import { subscribe } from '../support/subscriptions.js';
import { newWhsec, standardHeaders } from '../support/webhooks.js';
import { print } from 'graphql';

/**
 * Real PostgreSQL servers restarted and killed (ADR 0010). Each test starts its own embedded
 * server in a fresh 0755 folder and only ever signals that server, by the PID in its own
 * postmaster.pid: other PostgreSQL servers on the machine are never touched.
 */
const folders: string[] = [];
afterAll(async () => {
  await stopSpawned();
  for (const dir of folders) {
    // Whatever a failed test left: its own server only.
    const pidFile = join(dir, 'pg', 'postmaster.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
      } catch {
        /* not running */
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
});

async function freshFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  folders.push(dir);
  return dir;
}

/** The postmaster PID of the server whose data folder is `pgDir` (its postmaster.pid). */
const postmasterPid = (pgDir: string) => Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

const SECRET = newWhsec();
/** How long the restarted server stays down: long enough that a growing reconnect backoff would show. */
const DOWN_FOR_MS = 4_000;

function webhookSender(url: string) {
  let n = 0;
  return async (id = `evt_${Date.now()}_${++n}`) => {
    const body = JSON.stringify({ type: 'invoice.paid', data: { id } });
    const correlationId = `corr-${id}`;
    try {
      const res = await fetch(url, { method: 'POST', headers: { ...standardHeaders(id, body, SECRET), 'x-correlation-id': correlationId }, body });
      return { id, correlationId, status: res.status };
    } catch {
      return { id, correlationId, status: 0 };
    }
  };
}

describe('an external PostgreSQL restarted (DATABASE_URL)', () => {
  it('webhooks are accepted again, and a subscription opened before the restart receives events published after it, within 2 s of the server being back', async () => {
    const dir = await freshFolder('switchboard-restart-');
    const server = await startEmbeddedPostgres(dir, createLogger('warn'), 'restart_test');
    const t = await startTestGateway({ DB_REQUEST_TIMEOUT_MS: '1500' }, { database: { url: server.url } });
    try {
      const { createIntegration } = await t.run(CreateIntegrationDocument, {
        input: { provider: 'GENERIC', name: 'inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
      });
      const send = webhookSender(`${t.url}/webhooks/${rowId(createIntegration.integration.id)}`);
      const sub = subscribe(t.url, t.adminKey, 'subscription($f: IntegrationEventFilter) { integrationLogAdded(filter: $f) { correlationId } }', {
        f: { integrationId: createIntegration.integration.id },
      });
      const received = (c: string) => sub.events.some((e: any) => e.integrationLogAdded.correlationId === c);
      const probes: string[] = [];
      await until(async () => {
        probes.push((await send()).correlationId);
        return probes.some(received);
      }, 10_000, 100);

      // The server restarts as an operator restarts it: a fast shutdown (every session is ended),
      // down for a few seconds (a restart with a checkpoint, an upgrade), then a start. While it
      // is down the gateway keeps trying; what is measured is how soon it is back after the start.
      const pid = postmasterPid(server.dataDir);
      await server.stop();
      expect(() => process.kill(pid, 0)).toThrow();
      expect((await send()).status).toBe(503);
      await new Promise((r) => setTimeout(r, DOWN_FOR_MS));
      await server.start();
      const back = performance.now();

      let accepted = 0;
      const after: string[] = [];
      await until(async () => {
        const hook = await send();
        if (hook.status === 200) {
          accepted ||= performance.now() - back;
          after.push(hook.correlationId);
        }
        return after.some(received);
      }, 15_000, 50);
      const delivered = performance.now() - back;
      expect(accepted).toBeLessThan(2_000);
      expect(delivered).toBeLessThan(2_000);
      // It was told once that events were interrupted, and stayed open.
      expect(sub.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }) })]);
      await sub.dispose();
    } finally {
      await t.stop();
      await server.stop();
    }
  });
});

describe('the embedded PostgreSQL killed (SIGKILL on its postmaster)', () => {
  it('within 10 s the gateway serves requests again on a restarted server, and every event acknowledged before the kill is processed', async () => {
    const dir = await freshFolder('switchboard-kill-');
    const env = testEnv(undefined, dir, { DB_REQUEST_TIMEOUT_MS: '2000' });
    const gateway: Gateway = await startGateway(env, createLogger(env.LOG_LEVEL));
    const db = new pg.Pool({ connectionString: gateway.embedded!.url, max: 2 });
    db.on('error', () => undefined);
    const graphql = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await fetch(gateway.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${env.ADMIN_API_KEY}` }, body: JSON.stringify({ query, variables }) }).catch(() => null);
      return res ? { status: res.status, body: (await res.json()) as any } : { status: 0, body: null };
    };
    try {
      const created = await graphql(print(CreateIntegrationDocument), {
        input: { provider: 'GENERIC', name: 'inbox', baseUrl: 'https://hooks.example.com', credentials: { headers: {} }, webhookSecret: SECRET },
      });
      const integrationRow = rowId(created.body.data.createIntegration.integration.id);
      const send = webhookSender(`${gateway.url}/webhooks/${integrationRow}`);
      const acknowledged = new Set<string>();
      let killed = false;
      const beforeKill = new Set<string>();
      let sending = true;
      const senders = Array.from({ length: 8 }, async () => {
        while (sending) {
          const hook = await send();
          if (hook.status === 200) {
            acknowledged.add(hook.id);
            if (!killed) beforeKill.add(hook.id);
          } else await new Promise((r) => setTimeout(r, 20));
        }
      });
      let servedMs = 0;
      try {
        await until(() => acknowledged.size >= 100, 30_000);
        const pid = postmasterPid(join(dir, 'pg'));
        // The gateway's own server, and no other.
        expect(pid).toBe(gateway.embedded!.pid);
        process.kill(pid, 'SIGKILL');
        killed = true;
        const killedAt = performance.now();
        await until(async () => (await graphql('{ customers(first: 1) { totalCount } }')).status === 200, 15_000, 50);
        servedMs = performance.now() - killedAt;
        expect(gateway.embedded!.pid).not.toBe(pid);
        const after = acknowledged.size;
        await until(() => acknowledged.size >= after + 50, 15_000);
      } finally {
        sending = false;
        await Promise.all(senders);
      }
      expect(servedMs).toBeLessThan(10_000);
      expect(beforeKill.size).toBeGreaterThanOrEqual(100);
      // Every acknowledged event was committed (crash recovery replayed the WAL) and gets processed.
      await until(async () => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM webhook_event WHERE integration_id = $1 AND status = 'IGNORED' AND external_event_id = ANY($2)`, [
          integrationRow,
          [...acknowledged],
        ]);
        return rows[0].n === acknowledged.size;
      }, 60_000, 200);
      const { rows } = await db.query(`SELECT external_event_id FROM webhook_event WHERE integration_id = $1`, [integrationRow]);
      const stored = new Set(rows.map((r) => r.external_event_id as string));
      expect([...beforeKill].filter((id) => !stored.has(id))).toEqual([]);
      const metrics = await scrapeMetrics(gateway.url, env.ADMIN_API_KEY!);
      expect(metrics).toMatch(/switchboard_embedded_postgres_restarts_total\{outcome="restarted"\} [1-9]/);
    } finally {
      await db.end();
      await gateway.stop();
    }
  });

  it('when it cannot be started again, /healthz answers 503 and a gateway run as `npm start` runs it exits non-zero', async () => {
    // In this process: the liveness endpoint.
    const dir = await freshFolder('switchboard-dead-');
    const env = testEnv(undefined, dir);
    let fatal = '';
    const gateway = await startGateway(env, createLogger(env.LOG_LEVEL), { onFatal: (reason) => (fatal = reason) });
    try {
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      // A data folder PostgreSQL refuses (a version file it does not recognise), then the kill.
      writeFileSync(join(dir, 'pg', 'PG_VERSION'), '9\n');
      process.kill(postmasterPid(join(dir, 'pg')), 'SIGKILL');
      await until(() => fatal, 20_000, 50);
      const health = await fetch(`${gateway.url}/healthz`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { reasons: string[] }).reasons[0]).toMatch(/could not be started again/);
    } finally {
      await gateway.stop();
    }

    // As its own process: it exits with a non-zero code, for a supervisor to start it again.
    expect(existsSync(MAIN)).toBe(true);
    const processDir = await freshFolder('switchboard-dead-process-');
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATA_DIR: processDir, LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT_MS: '2000' };
    delete childEnv.DATABASE_URL;
    delete childEnv.ADMIN_API_KEY;
    delete childEnv.ENCRYPTION_KEY;
    const child = await spawnMain(childEnv);
    writeFileSync(join(processDir, 'pg', 'PG_VERSION'), '9\n');
    process.kill(postmasterPid(join(processDir, 'pg')), 'SIGKILL');
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(/could not be started again/);
  });
});
