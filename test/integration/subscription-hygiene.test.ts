import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Customer } from '../../src/domain/customer/customer.entity.js';
import { CreateApiKeyDocument, CreateCustomerDocument, CreateIntegrationDocument } from '../generated/graphql.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { rowId } from '../support/outbound.js';
import { until } from '../support/processes.js';
import { rawConnect, subscribe } from '../support/subscriptions.js';
import { newWhsec, nowSeconds, post, stripeHeaders } from '../support/webhooks.js';

/**
 * The subscription server's limits and hygiene on one gateway with small limits: the per-key
 * caps on connections (4429) and operations (RATE_LIMITED), keep-alive pings (a client that never
 * answers them is dropped), integrationLogAdded fed by real webhook requests, and the 1001 close
 * on shutdown.
 */
let t: TestGateway;
let stopped = false;

const KEEPALIVE_MS = 1000;
const WS_URL = () => t.url.replace(/^http/, 'ws') + '/graphql';

beforeAll(async () => {
  t = await startTestGateway({ WS_MAX_CONNECTIONS_PER_KEY: '2', WS_MAX_SUBSCRIPTIONS_PER_KEY: '2', WS_KEEPALIVE_MS: String(KEEPALIVE_MS) });
});
afterAll(async () => {
  if (!stopped) await t?.stop();
});

const appKey = async (name: string) => (await t.run(CreateApiKeyDocument, { input: { name, role: 'APP' } })).createApiKey.key;

/** Publishes a customer.updated for a new customer, as the webhook processor would: a readiness probe. */
async function probeCustomer(): Promise<{ id: string; publish: () => void }> {
  const { createCustomer } = await t.run(CreateCustomerDocument, { input: { name: 'Probe', email: `probe.${Date.now()}.${Math.random()}@example.com` } });
  const id = createCustomer.customer.id;
  const publish = () => void t.gateway.services.customers.findByIds([rowId(id)]).then(([c]) => t.gateway.services.events.publish('customer.updated', c as Customer));
  return { id, publish };
}

describe('per-key caps', () => {
  it('a key past WS_MAX_CONNECTIONS_PER_KEY is closed with 4429; a freed place can be taken again', async () => {
    const key = await appKey('connections');
    const query = 'subscription { integrationJobUpdated { id } }';
    const first = subscribe(t.url, key, query);
    const second = subscribe(t.url, key, query);
    await Promise.all([first.connected, second.connected]);
    try {
      const third = await rawConnect(t.url, { authorization: `Bearer ${key}` });
      expect(third).toMatchObject({ code: 4429, acked: false });
      expect(third.reason).toMatch(/Too many connections for this API key \(at most 2\)/);
      // Another key is not affected.
      expect(await rawConnect(t.url, { authorization: `Bearer ${t.adminKey}` })).toMatchObject({ acked: true });
      await first.dispose();
      await until(async () => (await rawConnect(t.url, { authorization: `Bearer ${key}` })).acked, 10_000, 50);
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
  });

  it('an operation past WS_MAX_SUBSCRIPTIONS_PER_KEY gets RATE_LIMITED; completing one frees its place', async () => {
    const key = await appKey('operations');
    const client = createClient({ url: WS_URL(), webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key}` }, onNonLazyError: () => {} });
    const errors: unknown[][] = [[], [], [], []];
    const start = (i: number) =>
      client.subscribe({ query: 'subscription { integrationJobUpdated { id } }' }, { next: () => {}, error: (e) => errors[i].push(e), complete: () => {} });
    try {
      const stopFirst = start(0);
      start(1);
      start(2);
      await until(() => errors[2].length > 0, 10_000);
      expect(JSON.stringify(errors[2])).toContain('RATE_LIMITED');
      expect(JSON.stringify(errors[2])).toContain('Too many subscriptions for this API key (at most 2)');
      expect(errors[0].concat(errors[1])).toEqual([]);
      stopFirst();
      // The complete message frees the place once the server has handled it: retry until it has.
      await until(
        () =>
          new Promise<boolean>((resolve) => {
            const stop = client.subscribe(
              { query: 'subscription { integrationJobUpdated { id } }' },
              {
                next: () => {},
                error: () => resolve(false),
                complete: () => {},
              },
            );
            setTimeout(() => {
              resolve(true);
              stop();
            }, 200);
          }),
        10_000,
        50,
      );
    } finally {
      await client.dispose();
    }
  });
});

describe('keep-alive', () => {
  it('the server pings every WS_KEEPALIVE_MS; a client that answers stays, one that never answers is dropped', async () => {
    const open = (autoPong: boolean) => {
      const ws = new WebSocket(WS_URL(), 'graphql-transport-ws', { autoPong });
      const state = { pings: 0, acked: false, closed: null as number | null };
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminKey}` } })));
      ws.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_ack') state.acked = true;
      });
      ws.on('ping', () => state.pings++);
      ws.on('close', (code) => (state.closed = code));
      return { ws, state };
    };
    const answering = open(true);
    const silent = open(false);
    try {
      // The silent one is pinged, then terminated (no close frame: 1006) when no pong came.
      await until(() => silent.state.closed !== null, 10 * KEEPALIVE_MS);
      expect(silent.state).toMatchObject({ acked: true, closed: 1006 });
      expect(silent.state.pings).toBeGreaterThanOrEqual(1);
      // Meanwhile the answering one keeps being pinged and stays open.
      await until(() => answering.state.pings >= 3, 10 * KEEPALIVE_MS);
      expect(answering.state).toMatchObject({ acked: true, closed: null });
    } finally {
      answering.ws.close();
      silent.ws.terminate();
    }
  });
});

describe('integrationLogAdded', () => {
  it('streams the INBOUND log row of each webhook request, rejected ones included, to subscribers of that integration only', async () => {
    const watchedSecret = newWhsec();
    const make = async (name: string, webhookSecret = newWhsec()) =>
      (
        await t.run(CreateIntegrationDocument, {
          input: { provider: 'STRIPE', name, baseUrl: 'https://api.stripe.com', credentials: { apiKey: 'sk_test_log_stream_0123456789' }, webhookSecret },
        })
      ).createIntegration.integration;
    const watched = await make('watched', watchedSecret);
    const other = await make('other');
    const query = `subscription($f: IntegrationEventFilter) {
      integrationLogAdded(filter: $f) { service eventType direction status errorMsg httpStatus integrationId webhookEventId }
    }`;
    // A key each (OPERATOR: logs:read): this gateway allows two operations per key.
    const operatorKey = async (name: string) => (await t.run(CreateApiKeyDocument, { input: { name, role: 'OPERATOR' } })).createApiKey.key;
    const mine = subscribe<{ integrationLogAdded: Record<string, unknown> }>(t.url, await operatorKey('mine'), query, { f: { integrationId: watched.id } });
    const theirs = subscribe<{ integrationLogAdded: Record<string, unknown> }>(t.url, await operatorKey('theirs'), query, { f: { integrationId: other.id } });
    try {
      const probe = await probeCustomer();
      await Promise.all([mine.ready(probe.id, probe.publish), theirs.ready(probe.id, probe.publish)]);
      const body = JSON.stringify({ id: `evt_log_${Date.now()}`, object: 'event', type: 'customer.updated', created: nowSeconds(), api_version: '2026-10-28.endive', livemode: false, data: { object: {} } });
      const rejected = await post(watched.webhookUrl!, body, stripeHeaders(body, 'whsec_not_the_secret_0123456789abcdef'));
      expect(rejected.status).toBe(401);
      await until(() => mine.events.length > 0, 10_000);
      expect(mine.errors).toEqual([]);
      expect(mine.events[0].integrationLogAdded).toMatchObject({ service: 'stripe', direction: 'INBOUND', status: 'FAILED', httpStatus: 401, integrationId: watched.id, webhookEventId: null });
      expect(String(mine.events[0].integrationLogAdded.errorMsg)).toMatch(/signature/i);
      // Another integration's subscriber got nothing: let a request of its own through to show it is live.
      const own = await post(other.webhookUrl!, '{', { 'content-type': 'application/json', 'stripe-signature': `t=${nowSeconds()},v1=00` });
      expect(own.status).toBe(401);
      await until(() => theirs.events.length > 0, 10_000);
      expect(theirs.events.map((e) => e.integrationLogAdded.integrationId)).toEqual([other.id]);
      // A marker only `mine` may see (a genuine event: rejections after the first are only
      // counted, a row a minute): a socket delivers in order, so once it is there, any row of
      // the other integration leaked to `mine` would have arrived before it.
      const marker = JSON.stringify({ id: `evt_mark_${Date.now()}`, object: 'event', type: 'customer.updated', created: nowSeconds(), api_version: '2026-10-28.endive', livemode: false, data: { object: {} } });
      expect((await post(watched.webhookUrl!, marker, stripeHeaders(marker, watchedSecret))).status).toBe(200);
      await until(() => mine.events.length >= 2, 10_000);
      expect(mine.events.map((e) => e.integrationLogAdded.integrationId)).toEqual([watched.id, watched.id]);
    } finally {
      await Promise.all([mine.dispose(), theirs.dispose()]);
    }
  });
});

describe('shutdown', () => {
  it('stopping the gateway closes open subscription sockets with 1001', async () => {
    const s = subscribe(t.url, t.adminKey, 'subscription { integrationJobUpdated { id } }');
    await s.connected;
    stopped = true;
    await t.stop();
    expect(await s.closed).toMatchObject({ code: 1001, reason: 'Server shutting down' });
  });
});
