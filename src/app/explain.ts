/**
 * Use case: show what the engine would do with an OSS process string, without running it:
 * the parsed recipe (IR) and the planned sharp passes with the geometry after every step.
 */
import { parseOssProcess } from '../dialects/oss/parse.js';
import { planRecipe } from '../core/pipeline/run.js';
import { describePlan } from '../core/pipeline/plan.js';
import { probe } from '../core/codecs/probe.js';
import type { SourceInfo } from '../core/ir.js';

export interface ExplainSource {
  /** The encoded source image, probed for its real geometry. */
  readonly bytes?: Buffer;
  /** Or an assumed geometry when there is no file (format JPEG, no alpha, upright). */
  readonly width?: number;
  readonly height?: number;
}

export async function explainOss(process: string, source: ExplainSource): Promise<unknown> {
  const recipe = parseOssProcess(process);
  let info: SourceInfo;
  if (source.bytes) info = await probe(source.bytes);
  else {
    info = { format: 'jpeg', width: source.width ?? 1000, height: source.height ?? 1000, frames: 1, orientation: 1, hasAlpha: false, bytes: 0 };
  }
  if (recipe.terminal) return { recipe, terminal: recipe.terminal, passes: [] };
  const { plan, format, animated } = planRecipe(recipe, info);
  return { recipe, source: info, output: { format, animated, ...recipe.output }, plan: describePlan(plan) };
}
