/**
 * The HTTP server of a test twin on 127.0.0.1: every request is answered by `run`, after
 * `delayMs()` milliseconds when that is above 0 (to test timeouts); closing drops pending answers
 * and open connections.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

export async function startLoopbackServer(run: (req: IncomingMessage, res: ServerResponse) => void, delayMs: () => number): Promise<LoopbackServer> {
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const delay = delayMs();
    if (delay <= 0) return run(req, res);
    const timer = setTimeout(() => {
      timers.delete(timer);
      run(req, res);
    }, delay);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
