// How many sandboxes the machine holds by default: three quarters of its memory divided by a sandbox's memory
// limit, within bounds. An operator who knows better passes --max-sandboxes.
import os from 'node:os';
import { DEFAULT_LIMITS } from '../../sandbox/types.ts';

export const MIN_SANDBOXES = 2;
export const MAX_DEFAULT_SANDBOXES = 64;
const MEMORY_SHARE = 0.75;

export function defaultMaxSandboxes(
  totalMemoryBytes = os.totalmem(),
  sandboxMemoryBytes = DEFAULT_LIMITS.memoryBytes,
): number {
  const fit = Math.floor((totalMemoryBytes * MEMORY_SHARE) / sandboxMemoryBytes);
  return Math.max(MIN_SANDBOXES, Math.min(MAX_DEFAULT_SANDBOXES, fit));
}

/** One agent may take this share of the places by default (several threads at once), at least one. */
export function defaultMaxPerAgent(maxSandboxes: number): number {
  return Math.max(1, Math.min(8, Math.floor(maxSandboxes / 4)));
}
