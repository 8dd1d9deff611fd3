// Where corral keeps its state: everything lives under $CORRAL_HOME (default ~/.corral).
import os from 'node:os';
import path from 'node:path';

export interface HomePaths {
  root: string;
  configFile: string;
  /** the operator's rules for privileged actions (docs/governance.md) */
  policyFile: string;
  dbFile: string;
  keyFile: string;
  agentsDir: string;
  /** where workspaces lived before data/ (adopted on first use, see host/agent-volume.ts) */
  workspacesDir: string;
  /** per agent: its workspace and writable layer (a volume of its disk limit when corral is root) */
  dataDir: string;
  runDir: string;
  cacheDir: string;
  /** base images (unless $CORRAL_IMAGE_CACHE says elsewhere); agents' layers live in dataDir, never here */
  imagesDir: string;
}

export function resolveHome(env: NodeJS.ProcessEnv = process.env): HomePaths {
  const raw = env['CORRAL_HOME'];
  const root = path.resolve(raw !== undefined && raw !== '' ? raw : path.join(os.homedir(), '.corral'));
  return {
    root,
    configFile: path.join(root, 'corral.yaml'),
    policyFile: path.join(root, 'policy.yaml'),
    dbFile: path.join(root, 'corral.db'),
    keyFile: path.join(root, 'secret.key'),
    agentsDir: path.join(root, 'agents'),
    workspacesDir: path.join(root, 'workspaces'),
    dataDir: path.join(root, 'data'),
    runDir: path.join(root, 'run'),
    cacheDir: path.join(root, 'cache'),
    imagesDir: path.join(root, 'images'),
  };
}
