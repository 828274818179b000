/**
 * Helpers for the compression task API tests: a loopback origin serving test images, form
 * submission with fetch/FormData, and polling until a task settles.
 */
import { createServer, type Server } from 'node:net';
import sharp from 'sharp';
import { startRecorder, type Recorder } from '../source/recorder.js';

export const KEY = 'test-task-key';

export interface TaskBody {
  status: number;
  message: string;
  data?: {
    task_id: string;
    state?: number;
    progress?: number;
    image?: string;
    created_at?: number;
    processed_at?: number;
    completed_at?: number;
    return_type?: number;
    state_detail?: string;
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: TaskBody;
}

/** Fields as strings; `image_file` as a Buffer (with an optional file name) becomes a file part. */
export type Fields = Record<string, string | { data: Buffer; name: string }>;

export async function submit(base: string, fields: Fields, headers: Record<string, string> = { 'x-api-key': KEY }): Promise<Answer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string') form.append(k, v);
    else form.append(k, new Blob([v.data]), v.name);
  }
  const res = await fetch(`${base}/api/tasks/visual/imgcompress`, { method: 'POST', headers, body: form });
  return { status: res.status, headers: res.headers, body: (await res.json()) as TaskBody };
}

export async function query(base: string, id: string, headers: Record<string, string> = { 'x-api-key': KEY }): Promise<Answer> {
  const res = await fetch(`${base}/api/tasks/visual/imgcompress/${id}`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as TaskBody };
}

/** Polls until the task is terminal (state 1 or < 0); fails after `limitMs`. */
export async function settle(base: string, id: string, limitMs = 60000): Promise<TaskBody> {
  const end = Date.now() + limitMs;
  for (;;) {
    const a = await query(base, id);
    if (a.status !== 200) throw new Error(`query ${id} answered ${a.status}: ${JSON.stringify(a.body)}`);
    const s = a.body.data?.state as number;
    if (s === 1 || s < 0) return a.body;
    if (Date.now() > end) throw new Error(`task ${id} still in state ${s} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const srv: Server = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Origin {
  readonly rec: Recorder;
  readonly origin: string;
  readonly jpeg: Buffer;
  readonly png: Buffer;
}

/** Loopback origin: /cat.jpg, /alpha.png, /corrupt.jpg, /huge.jpg (31 MB), /slow.jpg (answers after 3 s). */
export async function startOrigin(): Promise<Origin> {
  const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 120, b: 40 } } })
    .composite([{ input: Buffer.from('<svg width="400" height="300"><circle cx="200" cy="150" r="100" fill="#2a6"/></svg>') }])
    .jpeg({ quality: 95 })
    .toBuffer();
  const png = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 10, g: 20, b: 200, alpha: 0.5 } } }).png().toBuffer();
  const huge = Buffer.alloc(31 * 1024 * 1024, 0x41);
  jpeg.copy(huge);
  const rec = await startRecorder('127.0.0.1', (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/cat.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
    else if (path === '/alpha.png') res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    else if (path === '/corrupt.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg.subarray(0, 300));
    else if (path === '/huge.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(huge);
    else if (path === '/slow.jpg') setTimeout(() => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg), 3000);
    else res.writeHead(404).end();
  });
  return { rec, origin: rec.origin, jpeg, png };
}
