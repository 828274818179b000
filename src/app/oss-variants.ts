/**
 * Result-cache identity of an OSS processed GET: the key (source version + normalised recipe) and
 * the purge tag (the source object), both known before the source is read.
 *
 * Recipes that read other objects (image watermarks) are not cached: their bytes depend on objects
 * outside the key.
 */
import { LRUCache } from 'lru-cache';
import { parseOssProcess } from '../dialects/oss/parse.js';
import { watermarkKeys } from '../core/ops/watermark.js';
import type { ObjectRecord } from '../ports/meta-store.js';
import { variantKey } from './variants.js';

/** Bumped when a change of the engine changes the bytes of cached variants. */
const CACHE_VERSION = 1;

export interface OssVariant {
  readonly key: string;
  readonly tag: string;
}

/** Process string → normalised recipe (JSON), or null when not cacheable; hits skip re-parsing. */
const normalised = new LRUCache<string, { json: string | null }>({ max: 4096 });

function recipeJson(process: string): string | null {
  const known = normalised.get(process);
  if (known !== undefined) return known.json;
  let json: string | null = null;
  if (!process.includes('sys/saveas')) {
    try {
      const recipe = parseOssProcess(process);
      if (watermarkKeys(recipe.ops).length === 0) json = JSON.stringify(recipe);
    } catch {
      // The engine reports the parse error with its proper code.
    }
  }
  normalised.set(process, { json });
  return json;
}

/** The variant identity of `process` on `rec`, or undefined when it is not cacheable (or invalid). */
export function ossVariant(bucket: string, key: string, rec: ObjectRecord, process: string): OssVariant | undefined {
  const recipe = recipeJson(process);
  if (recipe === null) return undefined;
  const k = variantKey(['oss', CACHE_VERSION, bucket, key, rec.etag, rec.lastModified, recipe]);
  return { key: k, tag: ossSourceTag(bucket, key) };
}

/** Purge tag of a stored object (shared by the OSS and Cloudflare dialects). */
export function ossSourceTag(bucket: string, key: string): string {
  return `oss:${bucket}/${key}`;
}
