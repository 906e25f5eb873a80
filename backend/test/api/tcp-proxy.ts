import net from 'node:net';

/**
 * A TCP proxy between the app and a backing service, so a test can take the service away and
 * give it back: `cut()` drops every connection and refuses new ones (the service is gone);
 * `blackhole()` lets connections stand but answers nothing (a hung service); `restore()` forwards
 * again, and what was held during a blackhole goes through, as when a paused service resumes.
 */
export interface TcpProxy {
  port: number;
  cut(): void;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'forward' | 'cut' | 'blackhole' = 'forward';
  const sockets = new Set<net.Socket>();
  const held = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const forward = (client: net.Socket) => {
    const upstream = net.connect(targetPort, targetHost);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  const server = net.createServer((client) => {
    track(client);
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    if (mode === 'blackhole') {
      client.pause();
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: address.port,
    cut() {
      mode = 'cut';
      dropAll();
    },
    blackhole() {
      mode = 'blackhole';
      // Standing connections go silent too: their bytes are held, never forwarded.
      for (const socket of sockets) socket.pause();
    },
    restore() {
      mode = 'forward';
      for (const socket of sockets) socket.resume();
      for (const client of held) forward(client);
      held.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
