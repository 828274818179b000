/**
 * Use case: compress an image to a target file size ("kbyte") in one output format.
 *
 * The single door through which the CLI (and later the compression task API) reaches
 * {@link compressToTarget}. Decides the output format when the caller names none: the requested
 * one, else the source's when it is JPEG, WebP, AVIF or PNG, else JPEG.
 */
import { compressToTarget, type CompressToTargetResult, type TargetFormat } from '../core/compress/target-size.js';
import { sniffFormat } from '../core/codecs/sniff.js';
import { invalidParam } from '../core/errors.js';

/** 1 KB = 1024 bytes, as the compression task spec decides (compress-task-api.md §7). */
export const KBYTE = 1024;
/** The task API's `kbyte` range (0 there means "not set"). */
export const MAX_KBYTE = 51200;

export const TARGET_FORMATS: readonly TargetFormat[] = ['jpeg', 'webp', 'avif', 'png'];

export interface CompressRequest {
  /** Target size in KB (1024 bytes), integer 1–51200. */
  readonly kbyte: number;
  readonly format?: TargetFormat;
  readonly width?: number;
  readonly height?: number;
}

export interface CompressResult extends CompressToTargetResult {
  readonly contentType: string;
  readonly targetBytes: number;
}

/** Accepts `jpg` as an alias of `jpeg`; undefined when the name is not a target format. */
export function targetFormatOf(name: string): TargetFormat | undefined {
  const n = name.toLowerCase();
  if (n === 'jpg') return 'jpeg';
  return (TARGET_FORMATS as readonly string[]).includes(n) ? (n as TargetFormat) : undefined;
}

export async function compressImage(source: Buffer, req: CompressRequest): Promise<CompressResult> {
  if (!Number.isInteger(req.kbyte) || req.kbyte < 1 || req.kbyte > MAX_KBYTE) throw invalidParam('kbyte', `integer between 1 and ${MAX_KBYTE}`, req.kbyte);
  const sniffed = sniffFormat(source);
  const format = req.format ?? (sniffed ? targetFormatOf(sniffed) : undefined) ?? 'jpeg';
  const targetBytes = req.kbyte * KBYTE;
  const res = await compressToTarget(source, {
    format,
    targetBytes,
    ...(req.width === undefined ? {} : { width: req.width }),
    ...(req.height === undefined ? {} : { height: req.height }),
  });
  return { ...res, contentType: `image/${res.format}`, targetBytes };
}
