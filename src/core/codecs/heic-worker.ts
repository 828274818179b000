/**
 * HEIC decoding off the event loop: heic-decode (libheif compiled to WebAssembly) runs
 * synchronously for 1–2 s per photo, so it runs in one lazily started worker thread, shared by all
 * requests (decodes are queued there). The worker is referenced only while decodes are pending,
 * so it never keeps an otherwise finished process alive.
 *
 * The worker's code is evaluated from a string (CommonJS) and loads heic-decode by the absolute
 * path resolved here, so it works the same from the TypeScript sources and from dist/.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export interface DecodedHeic {
  readonly width: number;
  readonly height: number;
  /** RGBA, width × height × 4 bytes. */
  readonly data: Uint8Array;
}

const WORKER_SOURCE = (modulePath: string) => `
const { parentPort } = require('node:worker_threads');
const decode = require(${JSON.stringify(modulePath)});
parentPort.on('message', async ({ id, bytes }) => {
  try {
    const img = await decode({ buffer: new Uint8Array(bytes) });
    const data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
    parentPort.postMessage({ id, width: img.width, height: img.height, data }, [data.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

interface Pending {
  resolve(v: DecodedHeic): void;
  reject(e: Error): void;
}

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
  worker = undefined;
}

function getWorker(): Worker {
  if (worker !== undefined) return worker;
  const path = createRequire(import.meta.url).resolve('heic-decode');
  const w = new Worker(WORKER_SOURCE(path), { eval: true });
  w.on('message', (m: { id: number; width?: number; height?: number; data?: Uint8Array; error?: string }) => {
    const p = pending.get(m.id);
    if (p === undefined) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.error !== undefined || m.data === undefined) p.reject(new Error(m.error ?? 'no pixels'));
    else p.resolve({ width: m.width ?? 0, height: m.height ?? 0, data: m.data });
  });
  w.on('error', (err) => failAll(err));
  w.on('exit', (code) => failAll(new Error(`HEIC decoder worker exited with code ${code}`)));
  w.unref();
  worker = w;
  return w;
}

/** Decodes a HEIC image to RGBA in the worker thread; rejects with the decoder's error. */
export function decodeHeicInWorker(bytes: Buffer): Promise<DecodedHeic> {
  const w = getWorker();
  const id = nextId++;
  // A copy is sent (the caller keeps its buffer, which may be a slice of a larger pool).
  const copy = new Uint8Array(bytes);
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.ref();
    w.postMessage({ id, bytes: copy }, [copy.buffer]);
  });
}
