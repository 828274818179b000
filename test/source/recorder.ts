/**
 * Tiny loopback HTTP servers that record every TCP connection and request, so SSRF tests can
 * assert that nothing arrived. They only ever bind 127.0.0.1 or ::1.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Recorder {
  readonly host: '127.0.0.1' | '::1';
  readonly port: number;
  /** `http://127.0.0.1:<port>` or `http://[::1]:<port>`. */
  readonly origin: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Requests received so far. */
  readonly requests: { readonly url: string; readonly headers: IncomingMessage['headers'] }[];
  /** Sockets that were closed (by either side) so far. */
  closedSockets: number;
  /** Resolves when the next socket closes. */
  nextSocketClose(): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, rec: Recorder) => void;

export async function startRecorder(host: '127.0.0.1' | '::1', handler: Handler = (_req, res) => res.end('ok')): Promise<Recorder> {
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    rec.requests.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res, rec);
  });
  server.on('connection', (socket: Socket) => {
    rec.connections++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      rec.closedSockets++;
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const rec: Recorder = {
    host,
    port,
    origin: host === '::1' ? `http://[::1]:${port}` : `http://127.0.0.1:${port}`,
    connections: 0,
    requests: [],
    closedSockets: 0,
    nextSocketClose: () => new Promise<void>((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return rec;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
