import net from "node:net";

/**
 * A TCP proxy in front of a server (a private Redis), so a test can cut one client off while
 * every other client keeps its direct connection: `cut()` drops every connection through it and
 * refuses new ones until `restore()`; `switchTo()` points it at another server (a failover, as a
 * virtual IP or DNS name moving to the promoted replica does); `freeze()` half-opens the open ones,
 * `freezeRequests()` only their client-to-server direction.
 */
export class TcpProxy {
  readonly #sockets = new Set<net.Socket>();
  /** The client side of each open connection (what `freezeRequests` stops reading). */
  readonly #clients = new Set<net.Socket>();
  #cut = false;
  /** Connections accepted and passed on so far (a client's reconnections count). */
  accepted = 0;
  #target: { port: number; host: string } = { port: 0, host: "127.0.0.1" };

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => proxy!.#accept(client, proxy!.#target.port, proxy!.#target.host));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    proxy.#target = { port: targetPort, host: targetHost };
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Drops every connection and sends new ones to another server: clients reconnect to it. */
  switchTo(targetPort: number, targetHost = "127.0.0.1"): void {
    this.#target = { port: targetPort, host: targetHost };
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  restore(): void {
    this.#cut = false;
  }

  /**
   * Half-opens the connections open now: both ends stay connected, but nothing passes any more
   * (bytes are dropped), as behind a middlebox that lost the flow. New connections pass.
   */
  freeze(): void {
    for (const socket of this.#sockets) {
      socket.unpipe();
      socket.on("data", () => {});
    }
  }

  /**
   * Half-opens the connections open now in one direction: what the clients send is dropped,
   * while what the server sends still reaches them (a subscriber keeps receiving messages, and
   * its commands go nowhere). New connections pass.
   */
  freezeRequests(): void {
    for (const client of this.#clients) {
      client.unpipe();
      client.on("data", () => {});
    }
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #accept(client: net.Socket, targetPort: number, targetHost: string): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = net.connect(targetPort, targetHost);
    pairSockets(client, upstream, this.#sockets);
    this.#clients.add(client);
    client.on("close", () => this.#clients.delete(client));
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

/** Tracks a proxied connection's two sockets in `open`, and closes each when the other closes. */
export function pairSockets(client: net.Socket, upstream: net.Socket, open: Set<net.Socket>): void {
  for (const socket of [client, upstream]) {
    open.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      open.delete(socket);
      client.destroy();
      upstream.destroy();
    });
  }
}
