/**
 * Video → animated image: the semantics of OSS `video/animation` (spec oss-video-animation.md §2.1)
 * as pure functions. Given the parsed parameters and what the probe found, `planAnimation` says
 * which instants are sampled, how long each output frame is shown and the exact geometry; the
 * ffmpeg adapter only turns the plan into argv.
 */
import { AppError } from '../errors.js';

export type AnimationFormat = 'gif' | 'webp';
export type ScaleType = 'crop' | 'stretch' | 'fill' | 'fit';

/** Parsed `video/animation` parameters (ranges already checked by the dialect). */
export interface AnimationParams {
  readonly format: AnimationFormat;
  /** Start offset, ms. */
  readonly ss: number;
  /** Most frames; undefined = unlimited. */
  readonly num?: number | undefined;
  /** Sampling interval, ms; undefined = every source frame. */
  readonly inter?: number | undefined;
  /** Playback rate; undefined = 1000 / interval. */
  readonly fps?: number | undefined;
  readonly w?: number | undefined;
  readonly h?: number | undefined;
  /** Percent of the source width / height. */
  readonly pw?: number | undefined;
  readonly ph?: number | undefined;
  readonly scaletype: ScaleType;
}

/** What a probe of the source reports (sizes are upright: rotation metadata already applied). */
export interface VideoInfo {
  /** Duration of the video stream (else of the container), ms. */
  readonly durationMs: number;
  /** Source frame rate (frames per second). */
  readonly fps: number;
  /** Display width and height after rotation. */
  readonly width: number;
  readonly height: number;
  /** Rotation applied for display, degrees clockwise (0, 90, 180, 270). */
  readonly rotation: number;
  readonly codec: string;
  readonly container: string;
}

/** Limits a server applies to one animation. */
export interface AnimationLimits {
  /** Longest source accepted, ms. */
  readonly maxDurationMs: number;
  /** Most output frames. */
  readonly maxFrames: number;
  /** Largest source side (display), px. */
  readonly maxSourceSide: number;
}

export const DEFAULT_ANIMATION_LIMITS: AnimationLimits = { maxDurationMs: 3600_000, maxFrames: 1000, maxSourceSide: 8192 };

/** The exact work of one animation. */
export interface AnimationPlan {
  readonly format: AnimationFormat;
  /** First sample instant, ms. */
  readonly startMs: number;
  /** Sampling interval I, ms (never below the source frame interval). */
  readonly intervalMs: number;
  /** Number of samples (output frames) N. */
  readonly frames: number;
  /** Playback rate R (frames per second). */
  readonly playbackFps: number;
  /** Per-frame delay in the format's unit: centiseconds (GIF) or milliseconds (WebP). */
  readonly delay: number;
  /** 100 (GIF, centiseconds) or 1000 (WebP, milliseconds). */
  readonly delayUnitsPerSecond: number;
  /** Frames are scaled to this size first… */
  readonly scaled: { readonly width: number; readonly height: number };
  /** …then cropped (crop) or padded with black (fill) to the output size at this offset. */
  readonly output: { readonly width: number; readonly height: number };
  readonly offset: { readonly x: number; readonly y: number };
  readonly scaletype: ScaleType;
}

/** GIF delays are whole centiseconds; below 2 cs most decoders slow the frame down to 10 cs. */
export const MIN_GIF_DELAY_CS = 2;
/** GIF delays are 16-bit. */
export const MAX_GIF_DELAY_CS = 65535;
/** Animated WebP frame durations are 24-bit milliseconds. */
export const MAX_WEBP_DELAY_MS = 0xffffff;

const roundHalfUp = (x: number): number => Math.floor(x + 0.5);

/** Output box OW×OH (spec §2.1 step 4; one missing side follows the source aspect ratio). */
export function outputBox(p: AnimationParams, sw: number, sh: number): { width: number; height: number } {
  let ow = p.w ?? (p.pw !== undefined ? roundHalfUp((sw * p.pw) / 100) : undefined);
  let oh = p.h ?? (p.ph !== undefined ? roundHalfUp((sh * p.ph) / 100) : undefined);
  if (ow === undefined && oh === undefined) return { width: sw, height: sh };
  if (ow === undefined) ow = roundHalfUp((oh! * sw) / sh);
  if (oh === undefined) oh = roundHalfUp((ow * sh) / sw);
  return { width: Math.max(1, ow), height: Math.max(1, oh) };
}

/** Scale, crop/pad offsets and final size for a scale type (spec §2.1 step 5). */
export function fitGeometry(
  scaletype: ScaleType, sw: number, sh: number, box: { width: number; height: number },
): Pick<AnimationPlan, 'scaled' | 'output' | 'offset'> {
  const { width: ow, height: oh } = box;
  if (scaletype === 'stretch') return { scaled: { width: ow, height: oh }, output: { width: ow, height: oh }, offset: { x: 0, y: 0 } };
  const sx = ow / sw;
  const sy = oh / sh;
  const s = scaletype === 'crop' ? Math.max(sx, sy) : Math.min(sx, sy);
  // The side that sets the scale is exact; the other one is rounded (and can never cross the box).
  const width = s === sx ? ow : Math.max(1, roundHalfUp(sw * s));
  const height = s === sy ? oh : Math.max(1, roundHalfUp(sh * s));
  const scaled = { width, height };
  if (scaletype === 'fit') return { scaled, output: scaled, offset: { x: 0, y: 0 } };
  // crop: centre-crop; fill: centre on a black canvas; the odd pixel goes right / bottom (floor).
  const x = Math.floor(Math.abs(width - ow) / 2);
  const y = Math.floor(Math.abs(height - oh) / 2);
  return { scaled, output: { width: ow, height: oh }, offset: { x, y } };
}

/** Number of samples t_k = ss + k·I with t_k < D and k < num. */
export function sampleCount(startMs: number, intervalMs: number, durationMs: number, num: number | undefined): number {
  if (startMs >= durationMs) return 0;
  // Tolerate floating error in I = 1000 / fps (e.g. 1000/24): 250 samples of 40 ms in 10 000 ms.
  const n = Math.ceil((durationMs - startMs) / intervalMs - 1e-9);
  return num === undefined ? n : Math.min(n, num);
}

/** Checks the probe against the limits and computes the plan, or throws a coded AppError. */
export function planAnimation(p: AnimationParams, info: VideoInfo, limits: AnimationLimits = DEFAULT_ANIMATION_LIMITS): AnimationPlan {
  if (info.durationMs > limits.maxDurationMs) {
    throw new AppError('VIDEO_TOO_LARGE', `The video lasts ${(info.durationMs / 1000).toFixed(1)} s; this server accepts at most ${limits.maxDurationMs / 1000} s.`, {
      details: { durationMs: Math.round(info.durationMs), maxDurationMs: limits.maxDurationMs },
    });
  }
  if (info.width > limits.maxSourceSide || info.height > limits.maxSourceSide) {
    throw new AppError('VIDEO_TOO_LARGE', `The video is ${info.width}x${info.height}; this server accepts sides up to ${limits.maxSourceSide} px.`);
  }
  const fi = 1000 / info.fps;
  const intervalMs = p.inter === undefined ? fi : Math.max(p.inter, fi);
  const frames = sampleCount(p.ss, intervalMs, info.durationMs, p.num === 0 ? undefined : p.num);
  if (frames === 0) {
    throw new AppError('INVALID_ARGUMENT', `Expected ss before the end of the video (${Math.floor(info.durationMs)} ms) but received ${p.ss}`);
  }
  if (frames > limits.maxFrames) {
    throw new AppError('OUTPUT_TOO_LARGE', `The animation would have ${frames} frames; this server makes at most ${limits.maxFrames} (raise inter or set num).`, {
      details: { frames, maxFrames: limits.maxFrames },
    });
  }
  const playbackFps = p.fps ?? 1000 / intervalMs;
  const delayUnitsPerSecond = p.format === 'gif' ? 100 : 1000;
  const raw = Math.round(delayUnitsPerSecond / playbackFps);
  const delay = p.format === 'gif' ? Math.min(MAX_GIF_DELAY_CS, Math.max(MIN_GIF_DELAY_CS, raw)) : Math.min(MAX_WEBP_DELAY_MS, Math.max(1, raw));
  const box = outputBox(p, info.width, info.height);
  return {
    format: p.format, startMs: p.ss, intervalMs, frames, playbackFps, delay, delayUnitsPerSecond,
    ...fitGeometry(p.scaletype, info.width, info.height, box), scaletype: p.scaletype,
  };
}
