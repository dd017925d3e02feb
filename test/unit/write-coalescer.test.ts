import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { WriteCoalescer } from '../../src/graphql/write-coalescer.js';

/** A real WebSocket pair on loopback; `writes` counts the server's TCP writes (system calls). */
async function pair() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const coalescer = new WriteCoalescer();
  const serverSide = new Promise<{ ws: WebSocket; writes: () => number }>((resolve) =>
    wss.on('connection', (ws) => {
      coalescer.attach(ws);
      const tcp = (ws as unknown as { _socket: Socket & { _writeGeneric: (...a: unknown[]) => unknown } })._socket;
      let writes = 0;
      const original = tcp._writeGeneric.bind(tcp);
      tcp._writeGeneric = (...args: unknown[]) => {
        writes++;
        return original(...args);
      };
      resolve({ ws, writes: () => writes });
    }),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  const server = await serverSide;
  const close = async () => {
    client.close();
    await new Promise((r) => wss.close(r));
  };
  return { ...server, client, received, close };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
};

describe('WriteCoalescer', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it('frames sent to one socket in the same turn leave in one write, in order, each callback called', async () => {
    const p = await pair();
    close = p.close;
    const before = p.writes();
    const acked: number[] = [];
    for (let i = 0; i < 3; i++) p.ws.send(`frame ${i}`, (err) => (err ? undefined : acked.push(i)));
    expect(acked).toEqual([0, 1, 2]);
    // Nothing is written before the turn ends; the unsent bytes count as buffered.
    expect(p.writes()).toBe(before);
    expect(p.ws.bufferedAmount).toBeGreaterThan(0);
    await until(() => p.received.length === 3);
    expect(p.received).toEqual(['frame 0', 'frame 1', 'frame 2']);
    expect(p.writes() - before).toBe(1);
    expect(p.ws.bufferedAmount).toBe(0);
  });

  it('a frame sent in a later turn goes out on its own, without waiting for more', async () => {
    const p = await pair();
    close = p.close;
    const before = p.writes();
    p.ws.send('first');
    await until(() => p.received.length === 1);
    p.ws.send('second');
    await until(() => p.received.length === 2);
    expect(p.received).toEqual(['first', 'second']);
    expect(p.writes() - before).toBe(2);
  });

  it('a close frame queued behind data frames still reaches the client, after them', async () => {
    const p = await pair();
    close = p.close;
    p.ws.send('last words');
    p.ws.close(4413, 'Slow consumer');
    const [code] = (await once(p.client, 'close')) as [number];
    expect(code).toBe(4413);
    expect(p.received).toEqual(['last words']);
  });
});
