/** What the numbers were measured on. */
import { cpus, loadavg, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly nproc: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly sharp: string;
  readonly libvips: string;
  readonly codecs: string;
  readonly sharpConcurrency: number;
  readonly uvThreadpool: string;
  readonly simd: boolean;
  readonly platform: string;
}

export function machineInfo(): MachineInfo {
  const v = sharp.versions as Record<string, string | undefined>;
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    nproc: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    sharp: v.sharp ?? 'unknown',
    libvips: v.vips ?? 'unknown',
    codecs: ['mozjpeg', 'webp', 'aom', 'heif', 'png', 'zlib-ng']
      .filter((k) => v[k] !== undefined)
      .map((k) => `${k} ${v[k]}`)
      .join(', '),
    sharpConcurrency: sharp.concurrency(),
    uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    simd: sharp.simd(),
    platform: `${process.platform} ${process.arch}`,
  };
}

export function loadAverage(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' / ');
}
