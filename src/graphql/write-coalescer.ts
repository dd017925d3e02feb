import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** Sockets flushed per turn of the event loop; between turns, new events are read and queued. */
const SOCKETS_PER_TURN = 64;

/**
 * Smart batching of subscription frames. One event fans out to every subscriber, and each frame
 * sent at once is one system call per socket: the cost of a delivery, many times what building
 * it costs. Instead, a frame is queued on its socket (the TCP socket is corked) and the queued
 * sockets are written a few dozen per turn of the event loop. Between turns the process reads
 * what arrived meanwhile, so when events come in bursts (a job's PENDING, PROCESSING and COMPLETED
 * within milliseconds), a socket not yet written takes them all in one write. An idle process
 * writes at the next turn, so a lone event is not held back.
 *
 * The send callback runs once the frame is queued: graphql-ws waits on it before taking a
 * subscription's next event, which would otherwise keep events from joining. Unsent bytes still
 * count in `bufferedAmount`, which the slow-consumer check reads.
 */
export class WriteCoalescer {
  private readonly queued = new Set<Socket>();
  private scheduled = false;

  attach(ws: WebSocket): void {
    const tcp = (ws as unknown as { _socket?: Socket })._socket;
    if (!tcp) return;
    const send = ws.send.bind(ws);
    ws.send = ((data: Parameters<WebSocket['send']>[0], options?: unknown, cb?: (err?: Error) => void) => {
      if (typeof options === 'function') {
        cb = options as (err?: Error) => void;
        options = {};
      }
      if (ws.readyState !== ws.OPEN || tcp.destroyed) {
        send(data, (options ?? {}) as object, cb);
        return;
      }
      if (!this.queued.has(tcp)) {
        tcp.cork();
        this.queued.add(tcp);
        this.schedule();
      }
      // A failed write surfaces as the socket's error and closes the WebSocket.
      send(data, (options ?? {}) as object);
      cb?.();
    }) as WebSocket['send'];
    tcp.once('close', () => this.queued.delete(tcp));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    let n = 0;
    for (const tcp of this.queued) {
      this.queued.delete(tcp);
      tcp.uncork();
      if (++n === SOCKETS_PER_TURN) break;
    }
    if (this.queued.size > 0) setImmediate(this.flush);
    else this.scheduled = false;
  };
}
