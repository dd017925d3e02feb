import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** How the proxy treats traffic now. */
export type ProxyMode = 'pass' | 'stall' | 'blackhole' | 'refuse';

interface Link {
  client: Socket;
  server: Socket | null;
  /** Bytes from the client not yet forwarded (a new connection held during a stall). */
  held: Buffer[];
  /** A blackholed link drops everything for good: its protocol stream lost bytes. */
  blackholed: boolean;
  clientEnded: boolean;
}

/**
 * A TCP proxy between the gateway and PostgreSQL that can break the connection the ways a
 * database fails in production (ADR 0010):
 *
 * - `stall()`: nothing moves either way, as when the server's processes are paused (storage
 *   hiccup, lock pile-up, SIGSTOP). New connections are accepted (the kernel's backlog would)
 *   but not passed on. `resume()` delivers what waited, as a server coming back would process it.
 * - `blackhole()`: bytes are swallowed and nothing answers, as on a network that drops packets
 *   or a host that vanished. Connections open during it stay dead after `resume()` (they lost
 *   bytes); new ones pass.
 * - `refuse()`: every connection is reset and new ones are reset at once (the server is down).
 * - `reset()`: every open connection is reset once (the server restarted); new ones pass.
 */
export class TcpProxy {
  private mode: ProxyMode = 'pass';
  private readonly links = new Set<Link>();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {}

  /** A proxy on a free port of 127.0.0.1 to `targetUrl`'s host and port. */
  static async start(targetUrl: string): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const target = { host: url.hostname, port: Number(url.port || 5432) };
    let proxy!: TcpProxy;
    const server = createServer((socket) => proxy.accept(socket));
    proxy = new TcpProxy(server, target);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `databaseUrl` with its host and port replaced by the proxy's. */
  urlFor(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Open client connections. */
  get connections(): number {
    return this.links.size;
  }

  stall(): void {
    this.mode = 'stall';
    for (const link of this.links) {
      link.client.pause();
      link.server?.pause();
    }
  }

  blackhole(): void {
    this.mode = 'blackhole';
    for (const link of this.links) this.swallow(link);
  }

  refuse(): void {
    this.mode = 'refuse';
    this.reset();
  }

  /** Resets every open connection (both sides); the mode stays what it was. */
  reset(): void {
    for (const link of [...this.links]) this.drop(link, true);
  }

  /** Back to passing traffic: stalled connections go on where they were; blackholed ones stay dead. */
  resume(): void {
    const wasStalled = this.mode === 'stall';
    this.mode = 'pass';
    if (!wasStalled) return;
    for (const link of this.links) {
      if (link.blackholed) continue;
      if (!link.server) this.connectUpstream(link);
      link.client.resume();
      link.server?.resume();
    }
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) this.drop(link, false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.setNoDelay(true);
    if (this.mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client, server: null, held: [], blackholed: false, clientEnded: false };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.blackholed) return;
      if (link.server?.writable) link.server.write(chunk);
      else link.held.push(chunk);
    });
    client.on('end', () => {
      link.clientEnded = true;
      if (link.blackholed) return this.drop(link, false);
      if (link.server) link.server.end();
    });
    client.on('error', () => this.drop(link, false));
    client.on('close', () => this.drop(link, false));
    if (this.mode === 'blackhole') this.swallow(link);
    else if (this.mode === 'stall') client.pause();
    else this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    const server = createConnection(this.target.port, this.target.host);
    server.setNoDelay(true);
    link.server = server;
    server.on('connect', () => {
      for (const chunk of link.held.splice(0)) server.write(chunk);
      if (link.clientEnded) server.end();
    });
    server.on('data', (chunk: Buffer) => {
      if (!link.blackholed && link.client.writable) link.client.write(chunk);
    });
    server.on('end', () => {
      if (!link.blackholed) link.client.end();
    });
    server.on('error', () => this.drop(link, true));
    server.on('close', () => {
      if (!link.blackholed) this.drop(link, false);
    });
    if (this.mode === 'stall') server.pause();
  }

  /** From now on this link's bytes go nowhere and nothing answers; it is never revived. */
  private swallow(link: Link): void {
    link.blackholed = true;
    link.held.length = 0;
    // Reading on (and dropping) keeps the client's writes from blocking, as a lossy network would.
    link.client.resume();
    link.server?.removeAllListeners('data');
    link.server?.destroy();
    link.server = null;
  }

  private drop(link: Link, reset: boolean): void {
    if (!this.links.delete(link)) return;
    if (reset) {
      if (!link.client.destroyed) link.client.resetAndDestroy();
      if (link.server && !link.server.destroyed) link.server.resetAndDestroy();
    } else {
      link.client.destroy();
      link.server?.destroy();
    }
  }
}
