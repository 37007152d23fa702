import net from "node:net";
import { pairSockets } from "./tcp-proxy.ts";

/**
 * A TCP proxy in front of PostgreSQL that loses a reply: once armed, the first statement whose
 * bytes match is forwarded, the server's answers on that connection are dropped, and the
 * connection is cut a little later — the database commits, the client sees a lost connection
 * (what a network fault or a proxy restart right after a commit looks like).
 */
export class LostReplyProxy {
  readonly #sockets = new Set<net.Socket>();
  #armed: { matches: (text: string) => boolean; cut: () => void } | undefined;

  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async start(targetPort: number): Promise<LostReplyProxy> {
    let proxy: LostReplyProxy | undefined;
    const server = net.createServer((client) => proxy!.#accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    proxy = new LostReplyProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** Loses the reply to the next statement whose text matches; resolves once its connection was cut. */
  arm(matches: (text: string) => boolean, cutAfterMs = 200): Promise<void> {
    return new Promise((resolve) => {
      this.#armed = { matches, cut: () => setTimeout(resolve, cutAfterMs) };
    });
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #accept(client: net.Socket, targetPort: number): void {
    const upstream = net.connect(targetPort, "127.0.0.1");
    let losing = false;
    pairSockets(client, upstream, this.#sockets);
    client.on("data", (chunk: Buffer) => {
      if (losing) return;
      upstream.write(chunk);
      const armed = this.#armed;
      if (armed === undefined || !armed.matches(chunk.toString("latin1"))) return;
      this.#armed = undefined;
      losing = true;
      armed.cut();
      setTimeout(() => {
        client.destroy();
        upstream.destroy();
      }, 150);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!losing) client.write(chunk);
    });
  }
}
