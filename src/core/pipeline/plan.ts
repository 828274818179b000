/**
 * The planner: cuts an ordered list of operations into sharp passes.
 *
 * sharp runs one fixed pipeline per instance (see the Stage ranks in ops/types.ts). Operations stay
 * in the current pass while each lands on a strictly later stage than the one before; otherwise a
 * new pass starts, fed with the previous pass's raw pixels. The planner is pure: given the source
 * geometry it returns every pass with the geometry before and after each step, which is exactly
 * what `halftone explain` prints.
 */
import type { Operation } from '../ir.js';
import { OPS } from '../ops/index.js';
import type { ImageState, OpDefinition, StageSlot, StageValue } from '../ops/types.js';
import { Stage } from '../ops/types.js';

export interface PlannedStep {
  readonly op: Operation;
  /** Stages the step occupies in its pass. */
  readonly stages: readonly StageValue[];
  readonly before: ImageState;
  readonly after: ImageState;
}

export interface Pass {
  readonly steps: readonly PlannedStep[];
  /** Whether sharp must auto-orient the input of this pass (only ever the first). */
  readonly autoOrient: boolean;
}

export interface Plan {
  readonly source: ImageState;
  readonly passes: readonly Pass[];
  readonly result: ImageState;
}

export interface PlanOptions {
  /** Test/benchmark aid: one pass per operation (the naive runner the planner is checked against). */
  readonly onePassPerOp?: boolean;
  readonly outputHasAlpha?: boolean;
}

function definition(op: Operation): OpDefinition<Operation['op']> {
  return OPS[op.op] as unknown as OpDefinition<Operation['op']>;
}

/** Chooses a stage for every slot after `last`, or null when the step does not fit the pass. */
function fit(slots: readonly StageSlot[], last: number): StageValue[] | null {
  const chosen: StageValue[] = [];
  let cursor = last;
  for (const slot of slots) {
    const options = typeof slot === 'number' ? [slot] : slot;
    // composite layers can be appended to a pass whose last stage is composite: they blend in order.
    const pick = options.find((s) => s > cursor || (s === Stage.COMPOSITE && cursor === Stage.COMPOSITE));
    if (pick === undefined) return null;
    chosen.push(pick);
    cursor = pick;
  }
  return chosen;
}

/**
 * Plans `ops` on an image of geometry `source`. Throws the AppError of the first operation whose
 * geometry is invalid for its input (e.g. a crop that starts outside the image).
 */
export function plan(ops: readonly Operation[], source: ImageState, options: PlanOptions = {}): Plan {
  type OpenPass = { steps: PlannedStep[]; autoOrient: boolean; last: number };
  const passes: OpenPass[] = [];
  let current: OpenPass | null = null;
  let state = source;
  for (const op of ops) {
    const def = definition(op);
    const params = op.params as never;
    const before = state;
    const after = def.geometry(params, before, { outputHasAlpha: options.outputHasAlpha ?? true });
    const slots = def.stages(params, before);
    let chosen: StageValue[] | null = null;
    const exclusive = slots === 'exclusive';
    if (current && !exclusive && !options.onePassPerOp) {
      if (op.op === 'flatten' && current.last < Stage.RESIZE) {
        // Flattening is pointwise: it commutes with orientation, rotation by 90° and extraction, so
        // it can join a pass that has only used those stages (sharp runs it before resize).
        chosen = [Stage.FLATTEN];
      } else {
        chosen = fit(slots, current.last);
      }
    }
    let pass: OpenPass | null = current;
    if (chosen === null || pass === null) {
      chosen = exclusive ? [] : fit(slots, 0) ?? [];
      pass = { steps: [], autoOrient: false, last: 0 };
      passes.push(pass);
      current = pass;
    }
    const isFlattenJoin = op.op === 'flatten' && pass.steps.length > 0;
    pass.steps.push({ op, stages: chosen, before, after });
    if (op.op === 'autoOrient' && op.params.enabled) pass.autoOrient = true;
    if (exclusive) pass.last = Number.POSITIVE_INFINITY;
    else if (!isFlattenJoin) pass.last = chosen.length > 0 ? (chosen[chosen.length - 1] as number) : pass.last;
    state = after;
  }
  return {
    source,
    passes: passes.map(({ steps, autoOrient }) => ({ steps, autoOrient })),
    result: state,
  };
}

/** A JSON-friendly view of a plan for `explain` and the playground. */
export function describePlan(p: Plan): unknown {
  const stageName = new Map<number, string>(Object.entries(Stage).map(([k, v]) => [v, k]));
  return {
    source: p.source,
    result: p.result,
    passes: p.passes.map((pass, i) => ({
      pass: i + 1,
      autoOrient: pass.autoOrient,
      steps: pass.steps.map((s) => ({
        op: s.op.op,
        params: s.op.params,
        stages: s.stages.map((st) => stageName.get(st) ?? String(st)),
        before: `${s.before.width}x${s.before.height}`,
        after: `${s.after.width}x${s.after.height}`,
      })),
    })),
  };
}
