/**
 * Use case: the playground's image shelf. Anonymous visitors of an enabled playground may upload
 * images into ONE dedicated bucket (public-read, so result URLs work from a browser, curl or a
 * page without credentials). Only real images are accepted (sniffed, stored with the sniffed
 * content type — never HTML or SVG), each at most `maxBytes`, and the bucket keeps at most
 * `maxObjects` (the oldest uploads are deleted first). No access key ever reaches the browser.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.js';
import { sniffFormat } from '../core/codecs/sniff.js';
import type { ObjectService } from './oss-objects.js';

export interface PlaygroundShelfDeps {
  readonly objects: Pick<ObjectService, 'findBucket' | 'createBucket' | 'putObject' | 'listObjects' | 'deleteObjects' | 'loadObject'>;
  readonly bucket: string;
  readonly maxBytes: number;
  readonly maxObjects: number;
  readonly now?: () => number;
}

export interface ShelfImage {
  readonly key: string;
  readonly size: number;
  readonly contentType: string;
  readonly uploaded: string;
}

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', avif: 'avif', heic: 'heic', tiff: 'tiff', bmp: 'bmp' };
const TYPE: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif', heic: 'image/heic', tiff: 'image/tiff', bmp: 'image/bmp' };

export function createPlaygroundShelf(deps: PlaygroundShelfDeps) {
  const { objects, bucket } = deps;
  const now = deps.now ?? Date.now;
  const ensureBucket = async () => {
    if (await objects.findBucket(bucket) === undefined) await objects.createBucket(bucket, 'public-read');
  };
  const all = async () => {
    await ensureBucket();
    return (await objects.listObjects(bucket, { prefix: 'u/', delimiter: '', after: '', maxKeys: 10_000 })).objects;
  };
  return {
    bucket,
    /** Stores an image; returns its key. */
    async upload(data: Buffer): Promise<ShelfImage> {
      if (data.length === 0) throw new AppError('INVALID_ARGUMENT', 'The upload is empty.');
      if (data.length > deps.maxBytes) throw new AppError('ENTITY_TOO_LARGE', `The playground accepts images up to ${deps.maxBytes} bytes.`);
      const format = sniffFormat(data);
      if (format === null) throw new AppError('UNSUPPORTED_FORMAT', 'Not an image Halftone decodes (JPEG, PNG, WebP, GIF, AVIF, HEIC, TIFF, BMP).');
      await ensureBucket();
      // Keys sort by upload time, so the oldest are evicted first.
      const stamp = new Date(now()).toISOString().replace(/[-:.TZ]/g, '');
      const key = `u/${stamp}-${randomBytes(4).toString('hex')}.${EXT[format]}`;
      const rec = await objects.putObject({ bucket, key, body: data, contentType: TYPE[format] as string, headers: {}, meta: {}, acl: 'default' });
      const list = await all();
      if (list.length > deps.maxObjects) await objects.deleteObjects(bucket, list.slice(0, list.length - deps.maxObjects).map((o) => o.key));
      return { key, size: rec.size, contentType: rec.contentType, uploaded: new Date(rec.lastModified).toISOString() };
    },
    /** Newest first. */
    async list(): Promise<ShelfImage[]> {
      return (await all()).reverse().map((o) => ({ key: o.key, size: o.size, contentType: o.contentType, uploaded: new Date(o.lastModified).toISOString() }));
    },
    async load(key: string): Promise<Buffer> {
      if (!key.startsWith('u/')) throw new AppError('NO_SUCH_KEY', 'No such playground image.');
      return (await objects.loadObject(bucket, key)).data;
    },
  };
}
export type PlaygroundShelf = ReturnType<typeof createPlaygroundShelf>;
