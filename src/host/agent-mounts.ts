// An agent's mounts for one sandbox: each checked (src/host/mounts.ts), decided through the policy (action `mount`,
// resource the real path) and opened, or the launch fails with the reason. The caller closes the descriptors.
import fs from 'node:fs';
import type { AgentMount } from '../config/governance.ts';
import { declaredOnly } from '../policy/rights.ts';
import type { SandboxMount } from '../sandbox/types.ts';
import { CorralError } from '../util/errors.ts';
import type { Governance } from './authorize.ts';
import { authorize, mustAllow } from './authorize.ts';
import type { MountContext } from './mounts.ts';
import { checkMounts, openChecked } from './mounts.ts';

export async function agentMounts(
  gov: Governance | undefined,
  agent: string,
  mounts: readonly AgentMount[],
  ctx: MountContext,
): Promise<SandboxMount[]> {
  if (mounts.length === 0) return [];
  if (gov === undefined)
    throw new CorralError(
      'mounts_ungoverned',
      `agent ${agent} lists mounts, but this host has no policy to decide them`,
    );
  const opened: SandboxMount[] = [];
  try {
    for (const c of checkMounts(mounts, ctx)) {
      const d = await authorize(gov, {
        principal: { kind: 'agent', name: agent },
        action: 'mount',
        resource: c.resource,
        payload: { host: c.mount.host, path: c.mount.path, write: c.mount.write },
        context: { agent: declaredOnly(agent), mount: c.facts },
      });
      mustAllow(d, `agent ${agent} may not mount ${c.mount.host}`);
      opened.push({
        fd: openChecked(c),
        hostPath: c.resource,
        target: c.mount.path,
        readOnly: !c.mount.write,
      });
    }
    return opened;
  } catch (err) {
    closeMounts(opened);
    throw err;
  }
}

export function closeMounts(mounts: readonly SandboxMount[]): void {
  for (const m of mounts) fs.closeSync(m.fd);
}
