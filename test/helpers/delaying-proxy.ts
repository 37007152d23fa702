import net from "node:net";

/** A TCP proxy to `target` (a redis:// URL) that delays every byte from the server by `delayMs`: a slow link one way. */
export async function delayingProxy(target: string, delayMs: number): Promise<{ port: number; close(): void }> {
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
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
