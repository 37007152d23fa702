import net from "node:net";

/**
 * A TCP proxy to `target` (a redis:// URL) that delays every byte from the server by `delayMs`: a slow link one way.
 * `setDelay` changes the delay for bytes received from then on (lowering it may reorder the stream: set it while quiet).
 */
export async function delayingProxy(target: string, delayMs: number): Promise<{ port: number; setDelay(ms: number): void; close(): void }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port || 6379), hostname);
    sockets.add(client).add(upstream);
    client.on("data", (chunk) => upstream.write(chunk));
    // Equal delays fire in insertion order, so the stream stays ordered.
    upstream.on("data", (chunk) => void setTimeout(() => client.destroyed || client.write(chunk), delayMs));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: local } = server.address() as net.AddressInfo;
  return {
    port: local,
    setDelay: (ms) => {
      delayMs = ms;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
