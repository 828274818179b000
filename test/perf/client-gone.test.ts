/**
 * clientGone() on real sockets: the lazy signal aborts with CLIENT_CLOSED when the client leaves
 * after the signal was made, and also when it had already left before anything asked for it (a
 * request that disconnects during its header probe and only then reaches the admission queue); it
 * never aborts for a response that was sent in full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { clientGone } from '../../src/http/client-gone.js';
import { isAppError } from '../../src/core/errors.js';

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => { resolve = r; });
  return { promise, resolve };
}

/**
 * Serves `handler` on loopback and sends one GET; the client destroys its request once the server
 * has it when `leave` is set, else reads the response. Resolves with what `handler` reports.
 */
async function exchange<T>(leave: boolean, handler: (res: ServerResponse, report: (v: T) => void) => void): Promise<T> {
  const arrived = deferred();
  const outcome = deferred<T>();
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    handler(res, outcome.resolve);
    arrived.resolve();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const req = get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => res.resume());
    req.on('error', () => undefined);
    if (leave) void arrived.promise.then(() => req.destroy());
    return await outcome.promise;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

function assertClientClosed(signal: AbortSignal): void {
  assert.equal(signal.aborted, true);
  assert.ok(isAppError(signal.reason) && signal.reason.code === 'CLIENT_CLOSED', String(signal.reason));
}

test('clientGone: a client that leaves after the signal was made aborts it', async () => {
  const signal = await exchange<AbortSignal>(true, (res, report) => {
    const s = clientGone(res)();
    assert.equal(s.aborted, false);
    s.addEventListener('abort', () => report(s));
  });
  assertClientClosed(signal);
});

test('clientGone: a client that had already left before the signal was asked for aborts it at once', async () => {
  const { signal, again } = await exchange<{ signal: AbortSignal; again: AbortSignal }>(true, (res, report) => {
    const lazy = clientGone(res);
    res.once('close', () => {
      // The connection is gone, and nothing has asked for the signal yet.
      assert.equal(res.destroyed, true);
      const s = lazy();
      report({ signal: s, again: lazy() });
    });
  });
  assertClientClosed(signal);
  assert.equal(again, signal, 'the same signal is handed out again');
});

test('clientGone: a response sent in full never aborts, whenever the signal is asked for', async () => {
  const { before, after } = await exchange<{ before: AbortSignal; after: AbortSignal }>(false, (res, report) => {
    const early = clientGone(res);
    const late = clientGone(res);
    const before = early();
    res.end('ok');
    res.once('close', () => report({ before, after: late() }));
  });
  assert.equal(before.aborted, false);
  assert.equal(after.aborted, false);
});
