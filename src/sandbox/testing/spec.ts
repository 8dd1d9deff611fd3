// A sandbox spec for contract tests: its own directory (the spec's runDir) with workspace, runtime, gateway and
// etc directories inside, owned as the agent's uid where it has one.
import fs from 'node:fs';
import path from 'node:path';
import type { HostIds, SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';

export function contractSpec(
  dir: string,
  hostIds: HostIds | undefined,
  command: string[],
  over: Partial<SandboxSpec> = {},
): SandboxSpec {
  fs.mkdirSync(dir, { mode: 0o711, recursive: true });
  fs.chmodSync(dir, 0o711);
  const dirs = ['workspace', 'runtime', 'gw', 'etc'].map((d) => path.join(dir, d));
  for (const d of dirs) fs.mkdirSync(d, { mode: 0o755, recursive: true });
  const [workspaceDir = '', runtimeDir = '', gatewayDir = '', etcDir = ''] = dirs;
  if (hostIds !== undefined) fs.chownSync(workspaceDir, hostIds.uid, hostIds.gid);
  return {
    sandboxId: path.basename(dir),
    agent: 'contract',
    runDir: dir,
    workspaceDir,
    runtimeDir,
    gatewayDir,
    etcDir,
    hostIds,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', CONTRACT_VISIBLE: 'yes' },
    limits: DEFAULT_LIMITS,
    extraReadOnly: [],
    command,
    ...over,
  };
}
