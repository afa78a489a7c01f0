// A test server that can be closed at once: open keep-alive connections would
// otherwise hold `server.close()` until they time out.
import type { Server, Socket } from 'node:net';

export interface ClosableServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0: any free port), tracking connections so close() ends them too. */
export async function listenClosable(server: Server, port: number, host: string): Promise<ClosableServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
