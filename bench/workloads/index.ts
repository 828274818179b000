/**
 * Every workload group the harness knows. Add a group (target-size compression, video, HTTP peers…)
 * as one file in this folder exporting a WorkloadGroup, and list it here.
 */
import type { Workload, WorkloadGroup } from '../lib/types.js';
import { imageResize } from './image-resize.js';
import { targetSize } from './target-size.js';
import { videoAnimation } from './video.js';

export const GROUPS: readonly WorkloadGroup[] = [imageResize, targetSize, videoAnimation];

export function allWorkloads(): { group: WorkloadGroup; workload: Workload }[] {
  return GROUPS.flatMap((group) => group.workloads.map((workload) => ({ group, workload })));
}
