// Per-agent host state: the unprivileged uid an agent runs as, and directories corral owns (see agent-volume.ts).
import fs from 'node:fs';
import type { HostIds } from '../sandbox/types.ts';
import { CorralError } from '../util/errors.ts';

/** Agents get host uids far above any login user or subuid range; one uid per agent, never 0. */
export const AGENT_UID_BASE = 1_500_000_000;

export function agentHostIds(agentId: number, isRoot: boolean): HostIds | undefined {
  if (!isRoot) return undefined;
  const uid = AGENT_UID_BASE + agentId;
  return { uid, gid: uid };
}

/** Makes sure a directory corral owns exists and is a real directory, not a link someone planted. */
export function ensurePrivateDir(dir: string, mode: number): void {
  fs.mkdirSync(dir, { recursive: true, mode });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink()) {
    throw new CorralError('unsafe_path', `${dir} is not a plain directory; refusing to use it`);
  }
}
