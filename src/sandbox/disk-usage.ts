// Whether a sandbox's volume is full, judged from the host on the workspace directory itself (no agent path).
import fs from 'node:fs';
import { limitHit } from './limit-hit.ts';
import type { LimitHit, SandboxLimits } from './types.ts';

/** Below this much free space the volume counts as full: a write of any size is about to fail. */
const FULL_BELOW_BYTES = 1024 * 1024;

export function diskFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize < FULL_BELOW_BYTES;
  } catch {
    return false;
  }
}

export const diskHit = (limits: SandboxLimits): LimitHit => limitHit('diskBytes', limits);
