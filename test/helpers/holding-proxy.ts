import net from "node:net";
import { pairSockets } from "./tcp-proxy.ts";

/**
 * A TCP proxy in front of Redis that holds replies once: armed with a match, the connection that
 * next sends matching bytes gets no reply for `ms` from then, and everything held is delivered at
 * once afterwards — what a stalled event loop or a slow link does to a command's reply.
 */
export class HoldingProxy {
  readonly #sockets = new Set<net.Socket>();
  #armed: { matches: (chunk: Buffer) => boolean; ms: number; released: () => void } | undefined;
  #held: { chunks: Buffer[]; release: () => void } | undefined;

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(target: string): Promise<HoldingProxy> {
    const { hostname, port } = new URL(target);
    let proxy: HoldingProxy | undefined;
    const server = net.createServer((client) => proxy!.#accept(client, Number(port || 6379), hostname));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    proxy = new HoldingProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** Holds the replies after the next chunk that `matches`, for `ms`; resolves once they were delivered. */
  holdAfter(matches: (chunk: Buffer) => boolean, ms: number): Promise<void> {
    return new Promise((released) => (this.#armed = { matches, ms, released }));
  }

  /** Delivers what is held now. */
  release(): void {
    this.#held?.release();
  }

  async stop(): Promise<void> {
    this.release();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #accept(client: net.Socket, targetPort: number, targetHost: string): void {
    const upstream = net.connect(targetPort, targetHost);
    pairSockets(client, upstream, this.#sockets);
    let holding: Buffer[] | undefined;
    client.on("data", (chunk: Buffer) => {
      const armed = this.#armed;
      if (armed !== undefined && armed.matches(chunk)) {
        this.#armed = undefined;
        const chunks: Buffer[] = [];
        holding = chunks;
        const release = () => {
          if (holding !== chunks) return;
          holding = undefined;
          this.#held = undefined;
          for (const part of chunks) client.write(part);
          armed.released();
        };
        this.#held = { chunks, release };
        setTimeout(release, armed.ms);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => (holding !== undefined ? holding.push(chunk) : client.write(chunk)));
  }
}
