// Resolves the paths a model passes to tools. The sandbox, not this function, is the security boundary: an
// absolute path anywhere inside the sandbox is allowed, a relative one is taken from the workspace.
import { isAbsolute, resolve } from 'node:path';

export function resolvePath(workspace: string, path: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(workspace, path);
}
