// A TCP pass-through between the service and a dependency (Redis), that a test can shut.
import net from 'node:net';

export interface Gate {
  url: string;
  /** While shut, connections are dropped at once, as by a Redis that is down. */
  shut: boolean;
  close(): Promise<void>;
}

/**
 * A TCP pass-through to Redis for the service. Redis pub/sub delivers only to whoever is
 * subscribed at that instant, so when Redis comes back the test must be subscribed before the
 * relay publishes. A subscriber that reconnects by itself, however fast, races the service's
 * own reconnection; holding the service's connections back until we are subscribed does not.
 */
export async function startGate(redisPort: number): Promise<Gate> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (gate.shut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(redisPort, '127.0.0.1');
    const pair = [client, upstream];
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('error', () => undefined); // the other side's close says it all
      socket.on('close', () => {
        sockets.delete(socket);
        pair.forEach((s) => s.destroy());
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const gate: Gate = {
    url: `redis://127.0.0.1:${port}`,
    shut: false,
    close: async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return gate;
}
