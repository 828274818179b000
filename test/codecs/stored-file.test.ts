/**
 * Stored-file sources: the engine probes a stored file from its first 128 KB and lets libvips read
 * the rest, and must give exactly what it gives for the same bytes in memory: the same probe (or
 * the same error code) and byte-identical output. Checked on sources generated here (large enough
 * for the head path), the committed fixtures and, when present, ../shared/corpus.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { probe, probeImage } from '../../src/core/codecs/probe.js';
import { isStoredFile, type StoredFile } from '../../src/core/codecs/source.js';
import { walkJpegHeader } from '../../src/core/codecs/jpeg-markers.js';
import { runRecipe } from '../../src/core/pipeline/run.js';
import { parseOssProcess } from '../../src/dialects/oss/parse.js';
import { isAppError } from '../../src/core/errors.js';

let dir: string;
const stored = (name: string, bytes: Buffer): StoredFile => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, size: bytes.length };
};

/** Noise of `w`×`h` (incompressible, so the encoded file is well over the 128 KB head). */
const noise = (w: number, h: number, channels: 3 | 4) => sharp({ create: { width: w, height: h, channels, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });

/** A JPEG with `n` 60 KB APP15 segments after SOI: its header runs past the head. */
function withBigHeader(jpeg: Buffer, n: number): Buffer {
  const seg = Buffer.alloc(4 + 60_000, 0x20);
  seg.writeUInt16BE(0xffef, 0);
  seg.writeUInt16BE(60_000 + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), ...Array.from({ length: n }, () => seg), jpeg.subarray(2)]);
}

function walk(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d).flatMap((n) => {
    const full = join(d, n);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** The probe of `f`, or the error code it fails with. */
async function outcome(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return await f();
  } catch (err) {
    return { error: isAppError(err) ? err.code : String(err) };
  }
}

describe('stored-file sources', () => {
  const generated: Record<string, Buffer> = {};
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'halftone-stored-'));
    generated['q87.jpg'] = await noise(900, 700, 3).jpeg({ quality: 87 }).toBuffer();
    generated['big-header.jpg'] = withBigHeader(generated['q87.jpg'], 3);
    generated['rgba.png'] = await noise(400, 300, 4).png().toBuffer();
    generated['photo.webp'] = await noise(700, 500, 3).webp({ quality: 90 }).toBuffer();
    generated['pages.tiff'] = await noise(300, 200, 3).tiff({ compression: 'none' }).toBuffer();
    generated['photo.avif'] = await noise(500, 400, 3).avif({ quality: 80, effort: 0 }).toBuffer();
    for (const [name, bytes] of Object.entries(generated)) assert.ok(bytes.length > 128 * 1024, `${name} is ${bytes.length} bytes`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('walkJpegHeader sees the scan only when the whole header is there', () => {
    const jpeg = generated['q87.jpg'] as Buffer;
    assert.equal(walkJpegHeader(jpeg), true);
    assert.equal(walkJpegHeader((generated['big-header.jpg'] as Buffer).subarray(0, 128 * 1024)), false);
    assert.equal(walkJpegHeader(jpeg.subarray(0, 20)), false);
  });

  it('keeps the file for formats libvips reads as they are, reads the others (and long JPEG headers) whole', async () => {
    const expectFile: Record<string, boolean> = { 'q87.jpg': true, 'big-header.jpg': false, 'rgba.png': true, 'photo.webp': true, 'pages.tiff': true, 'photo.avif': false };
    for (const [name, bytes] of Object.entries(generated)) {
      const file = stored(name, bytes);
      const { src, info } = await probeImage(file);
      assert.equal(isStoredFile(src), expectFile[name], name);
      assert.deepEqual(info, await probe(bytes), name);
      if (!isStoredFile(src)) assert.ok(src.equals(bytes), `${name}: the bytes read whole are the file`);
    }
    assert.equal((await probeImage(stored('q87-again.jpg', generated['q87.jpg'] as Buffer))).info.jpegQuality, 87);
  });

  it('gives byte-identical output from the file and from memory', async () => {
    const cases: Array<[string, string]> = [
      ['q87.jpg', 'image/resize,w_300/quality,Q_80/format,jpg'],
      ['q87.jpg', 'image/resize,w_200/quality,q_90'],
      ['rgba.png', 'image/resize,w_150/format,png'],
      ['photo.webp', 'image/resize,w_120/format,webp'],
      ['pages.tiff', 'image/resize,w_100/format,jpg'],
      ['big-header.jpg', 'image/resize,w_100'],
    ];
    for (const [name, process] of cases) {
      const bytes = generated[name] as Buffer;
      const fromFile = await runRecipe(stored(name, bytes), parseOssProcess(process));
      const fromMemory = await runRecipe(bytes, parseOssProcess(process));
      assert.equal(fromFile.kind, 'image');
      assert.equal(fromMemory.kind, 'image');
      if (fromFile.kind === 'image' && fromMemory.kind === 'image') {
        assert.ok(fromFile.data.equals(fromMemory.data), `${name} ${process}`);
        assert.deepEqual([fromFile.width, fromFile.height, fromFile.format], [fromMemory.width, fromMemory.height, fromMemory.format]);
      }
    }
  });

  it('answers NO_SUCH_KEY when the file is gone before the probe or before the decode', async () => {
    const missing = { path: join(dir, 'never-written'), size: 300_000 };
    await assert.rejects(runRecipe(missing, parseOssProcess('image/resize,w_10')), (err: unknown) => isAppError(err) && err.code === 'NO_SUCH_KEY');
    const file = stored('vanishing.jpg', generated['q87.jpg'] as Buffer);
    const probed = await probeImage(file);
    assert.equal(isStoredFile(probed.src), true);
    unlinkSync(file.path);
    await assert.rejects(runRecipe(file, parseOssProcess('image/resize,w_10'), {}, probed), (err: unknown) => isAppError(err) && err.code === 'NO_SUCH_KEY');
  });

  it('probes every fixture and corpus file as it probes its bytes (same info or same error code)', async () => {
    const files = [...walk(new URL('../fixtures', import.meta.url).pathname), ...walk(new URL('../../../shared/corpus', import.meta.url).pathname)]
      .filter((f) => statSync(f).size > 0 && statSync(f).size < 64 * 1024 * 1024 && !/\.(md|txt|json|mp4|mov|webm|mkv|avi)$/i.test(f));
    let viaFile = 0;
    for (const f of files) {
      const bytes = readFileSync(f);
      const fromFile = await outcome(async () => {
        const { src, info } = await probeImage({ path: f, size: bytes.length });
        if (isStoredFile(src)) viaFile++;
        return info;
      });
      assert.deepEqual(fromFile, await outcome(() => probe(bytes)), f);
    }
    if (files.some((f) => f.includes('shared/corpus'))) assert.ok(viaFile > 0, 'some corpus files are probed from their head');
  });
});
