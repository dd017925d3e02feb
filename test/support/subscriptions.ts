import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Subscriber<T> {
  events: T[];
  errors: unknown[];
  /** Resolves once the server acknowledged the subscription's connection. */
  connected: Promise<void>;
  /** Resolves with the close event when the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  /**
   * Resolves once the server has registered this client's subscriptions: a second subscription
   * on the same socket (customerUpdated for `customerId`) receives what `publish` sends, and the
   * server handles one socket's messages in order.
   */
  ready(customerId: string, publish: () => void): Promise<void>;
  /** Stops reading from the socket (a stalled client), and starts again. */
  pause(): void;
  resume(): void;
  dispose(): Promise<void>;
}

/** A real graphql-ws client (graphql-transport-ws protocol) on `ws://…/graphql`. */
export function subscribe<T = any>(httpUrl: string, key: string | null, query: string, variables: Record<string, unknown> = {}): Subscriber<T> {
  const url = httpUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/graphql';
  const events: T[] = [];
  const errors: unknown[] = [];
  let onConnected!: () => void;
  let onClosed!: (e: { code: number; reason: string }) => void;
  const connected = new Promise<void>((r) => (onConnected = r));
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
  let socket: WebSocket | null = null;
  const client: Client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    on: {
      connected: (s) => {
        socket = s as WebSocket;
        onConnected();
      },
      closed: (e) => {
        const event = e as { code: number; reason: string };
        onClosed({ code: event.code, reason: String(event.reason) });
      },
    },
    onNonLazyError: () => {},
  });
  client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) errors.push(...value.errors);
        if (value.data) events.push(value.data as T);
      },
      error: (err) => errors.push(err),
      complete: () => {},
    },
  );
  return {
    events,
    errors,
    connected,
    closed,
    pause() {
      (socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
    },
    resume() {
      (socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
    },
    async ready(customerId, publish) {
      let seen = false;
      const stop = client.subscribe(
        { query: 'subscription($f: CustomerEventFilter) { customerUpdated(filter: $f) { id } }', variables: { f: { id: customerId } } },
        { next: () => void (seen = true), error: () => {}, complete: () => {} },
      );
      const deadline = Date.now() + 10_000;
      while (!seen) {
        if (Date.now() > deadline) throw new Error('the subscription was not registered within 10 s');
        publish();
        await new Promise((r) => setTimeout(r, 50));
      }
      stop();
    },
    async dispose() {
      await client.dispose();
    },
  };
}

/** A raw socket that only sends connection_init: what the server answers with (close code). */
export function rawConnect(httpUrl: string, payload: Record<string, unknown> | undefined): Promise<{ code: number; reason: string; acked: boolean }> {
  const url = httpUrl.replace(/^http/, 'ws').replace(/\/$/, '') + '/graphql';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    let acked = false;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', ...(payload ? { payload } : {}) })));
    ws.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        acked = true;
        ws.close(1000);
      }
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), acked }));
    ws.on('error', reject);
  });
}
