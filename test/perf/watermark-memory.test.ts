/**
 * Image watermarks are read like the source and counted in the memory budget:
 * - through the composed server, a watermark object is read from its blob file with the embedded
 *   store (nothing of it in the JavaScript heap) and held against the budget, with the source,
 *   while a pipeline runs from an S3-compatible store (s3rver on loopback);
 * - admission's estimate includes each watermark image decoded whole, probed before admission
 *   (transformOss), and each watermark object is opened once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { photo, seriesValue, startPerfHarness, until, type PerfHarness } from './harness.js';
import { startLocalS3 } from '../helpers/s3-server.js';
import { transformOss } from '../../src/app/transform-image.js';
import { createAdmission, type Admission } from '../../src/app/admission.js';
import { AppError, isAppError } from '../../src/core/errors.js';
import type { EncodedImage } from '../../src/core/codecs/source.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64url');

/** An opaque red mark of `w`×`h`. */
function redMark(w: number, h: number): Promise<Buffer> {
  return sharp({ create: { width: w, height: h, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } }).png().toBuffer();
}

/** Mean red, green and blue of a `size`-pixel square at the bottom-right corner of a JPEG. */
async function cornerMean(jpeg: Buffer, size: number): Promise<number[]> {
  const { width, height } = await sharp(jpeg).metadata();
  // stats() reads its input as it is, so the corner is cut out first.
  const corner = await sharp(jpeg).extract({ left: width! - size, top: height! - size, width: size, height: size }).png().toBuffer();
  const stats = await sharp(corner).stats();
  return stats.channels.slice(0, 3).map((c) => c.mean);
}

test('OSS GET with an image watermark through the server: drawn from the stored object; a missing one is WatermarkError', async () => {
  const h = await startPerfHarness({ HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0' });
  try {
    await h.put('pics', 'photo.jpg', await photo(800, 600));
    await h.put('pics', 'mark.png', await redMark(400, 300));
    // The mark at 25 % of the 200 px result (50×38), bottom right, fully opaque.
    const res = await h.get(`/pics/photo.jpg?x-oss-process=image/resize,w_200/watermark,image_${b64('mark.png?x-oss-process=image/resize,P_25')},g_se,x_0,y_0,t_100`);
    assert.equal(res.status, 200, res.body.toString());
    const meta = await sharp(res.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 200, 150]);
    const [r, g, b] = await cornerMean(res.body, 20);
    // JPEG red: tolerance for chroma subsampling and quantisation.
    assert.ok(r! > 200 && g! < 60 && b! < 60, `bottom-right corner is the red mark (mean ${[r, g, b].map((v) => v!.toFixed(0)).join(', ')})`);

    const missing = await h.get(`/pics/photo.jpg?x-oss-process=image/resize,w_200/watermark,image_${b64('nothing.png')}`);
    assert.equal(missing.status, 400);
    assert.match(missing.body.toString(), /<Code>WatermarkError<\/Code>/);
  } finally {
    await h.close();
  }
});

/** One series of the /metrics exposition, or undefined. */
async function series(h: PerfHarness, name: string): Promise<number | undefined> {
  return seriesValue((await h.get('/metrics')).body.toString(), name);
}

test('OSS GET from an S3-compatible store: the watermark object is held with the source while the pipeline runs', async () => {
  const s3 = await startLocalS3('halftone-mark');
  const h = await startPerfHarness({
    HALFTONE_CACHE_MEMORY_BYTES: '0', HALFTONE_CACHE_DISK_BYTES: '0',
    HALFTONE_STORAGE: 's3', HALFTONE_S3_ENDPOINT: s3.endpoint, HALFTONE_S3_REGION: s3.region, HALFTONE_S3_BUCKET: s3.bucket,
    HALFTONE_S3_ACCESS_KEY_ID: s3.accessKeyId, HALFTONE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, HALFTONE_S3_FORCE_PATH_STYLE: 'true',
  });
  try {
    const source = await photo(2400, 1800);
    const mark = await redMark(600, 450);
    await h.put('pics', 'big.jpg', source);
    await h.put('pics', 'mark.png', mark);
    // A slow pipeline (a wide blur) keeps both held long enough to be seen.
    const pending = h.get(`/pics/big.jpg?x-oss-process=image/resize,w_600/blur,r_50,s_50/watermark,image_${b64('mark.png')},g_se,x_0,y_0,t_100`);
    await until('the source and the watermark to be held', async () => (await series(h, 'halftone_source_memory_held_bytes')) === source.length + mark.length);
    const res = await pending;
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(await cornerMean(res.body, 20).then((m) => m.map((v) => v > 200 ? 'hi' : v < 60 ? 'lo' : 'mid')), ['hi', 'lo', 'lo']);
    assert.equal(await series(h, 'halftone_source_memory_held_bytes'), 0);
  } finally {
    await h.close();
    await s3.stop();
  }
});

/** An admission gate that records the estimate of every run. */
function recording(): { admission: Admission; estimates: number[] } {
  const inner = createAdmission({ maxActive: 2, maxQueue: 8, memoryBudgetBytes: 0 });
  const estimates: number[] = [];
  return { estimates, admission: { ...inner, run: (bytes, work, signal) => (estimates.push(bytes), inner.run(bytes, work, signal)) } };
}

test('transformOss: the estimate includes each watermark image decoded whole, and each watermark object is opened once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'halftone-mark-'));
  try {
    const main = await photo(800, 600);
    const markPath = join(dir, 'mark.png');
    const markBytes = await redMark(1000, 700);
    writeFileSync(markPath, markBytes);
    const opened: string[] = [];
    const fromFile = async (key: string): Promise<EncodedImage> => {
      opened.push(key);
      if (key !== 'mark.png') throw new AppError('NO_SUCH_KEY', `no object ${key}`);
      return { path: markPath, size: markBytes.length };
    };
    const plain = recording();
    await transformOss(main, 'image/resize,w_200', { loadObject: fromFile, admission: plain.admission });
    const marked = recording();
    // The same mark twice: opened once, charged once per object.
    const twice = `image/resize,w_200/watermark,image_${b64('mark.png?x-oss-process=image/resize,P_20')},g_se/watermark,image_${b64('mark.png')},g_nw,t_50`;
    const res = await transformOss(main, twice, { loadObject: fromFile, admission: marked.admission });
    assert.equal(res.kind, 'image');
    assert.deepEqual(opened, ['mark.png']);
    assert.equal(marked.estimates[0]! - plain.estimates[0]!, 1000 * 700 * 4);

    // Read from its file or from bytes, the watermark draws the same image.
    const fromBytes = await transformOss(main, twice, { loadObject: async () => markBytes });
    assert.ok(res.kind === 'image' && fromBytes.kind === 'image' && res.data.equals(fromBytes.data));

    // A missing watermark object still fails as the engine reports it (and not as an unhandled rejection).
    await assert.rejects(
      transformOss(main, `image/resize,w_200/watermark,image_${b64('gone.png')}`, { loadObject: fromFile, admission: recording().admission }),
      (err: unknown) => isAppError(err) && err.code === 'WATERMARK_ERROR',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
