import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Signature as HubSpotSignature } from '@hubspot/api-client/lib/src/utils/signature.js';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import type { TestGateway } from './gateway.js';
import { until } from './processes.js';

const PROVIDERS_DIR = new URL('../../src/providers/', import.meta.url);

/** A provider's literal payload, kept beside the code that maps it: src/providers/<provider>/fixtures/<name>.json. */
export function fixture<T = any>(provider: string, name: string): T {
  return JSON.parse(readFileSync(new URL(`${provider}/fixtures/${name}.json`, PROVIDERS_DIR), 'utf8')) as T;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Signed by stripe-node itself (`generateTestHeaderString`), not by the code under test. */
export function stripeHeaders(body: string, secret: string, t = nowSeconds()): Record<string, string> {
  return { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t }) };
}

/** Signed by HubSpot's official SDK (`@hubspot/api-client` Signature, v3), not by the code under test. */
export function hubspotHeaders(url: string, body: string, secret: string, ts = Date.now()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-hubspot-signature-v3': HubSpotSignature.getSignature('POST', 'v3', { signature: '', clientSecret: secret, url, requestBody: body, timestamp: ts }),
    'x-hubspot-request-timestamp': String(ts),
  };
}

/** A SendGrid verification key pair, as the integration (public, base64 DER) and the fake sender (private) hold them. */
export function sendgridKeys(): { publicKey: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), privateKey };
}

export function sendgridHeaders(body: string, privateKey: KeyObject, ts = nowSeconds()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': sign('sha256', Buffer.from(String(ts) + body), privateKey).toString('base64'),
    'x-twilio-email-event-webhook-timestamp': String(ts),
  };
}

export const newWhsec = () => `whsec_${randomBytes(24).toString('base64')}`;

/** Signed by the standardwebhooks library, not by the code under test. */
export function standardHeaders(id: string, body: string, secret: string, ts = nowSeconds()): Record<string, string> {
  const signature = new Webhook(secret).sign(id, new Date(ts * 1000), body);
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
}

export interface PostResult {
  status: number;
  body: any;
}

export async function post(url: string, body: string | Buffer, headers: Record<string, string>): Promise<PostResult> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed };
}

/**
 * POSTs the body in 64 KiB chunks with Transfer-Encoding: chunked (no Content-Length, as fetch
 * always sends one); resolves with the status. The server may answer and close before the end.
 */
export function postChunked(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    const bytes = Buffer.from(body);
    const write = (at: number): void => {
      if (at >= bytes.length || req.destroyed) return void req.end();
      if (req.write(bytes.subarray(at, at + 65_536))) write(at + 65_536);
      else req.once('drain', () => write(at + 65_536));
    };
    write(0);
  });
}

/** Waits until the stored events with these provider ids have left RECEIVED; returns their rows. */
export async function waitProcessed(t: TestGateway, integrationRowId: string, externalIds: string[], timeoutMs = 30_000) {
  return until(async () => {
    const rows = await t.sql<{ external_event_id: string; status: string; error: string | null; id: string }>(
      `SELECT id, external_event_id, status, error FROM webhook_event WHERE integration_id = $1 AND external_event_id = ANY($2) AND status <> 'RECEIVED'`,
      [integrationRowId, externalIds],
    );
    return rows.length === externalIds.length ? rows : null;
  }, timeoutMs);
}

/**
 * A local endpoint that takes a fake's webhooks in place of the gateway (answering 200), so a
 * test can hold them back, reorder or alter them, then post them itself.
 */
export async function webhookCatcher(): Promise<{ url: string; caught: string[]; close: () => void }> {
  const caught: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c)).on('end', () => {
      caught.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, caught, close: () => server.close() };
}
