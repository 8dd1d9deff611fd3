// Backends by name. New backends register here; the host asks for one by the agent's `backend` field.
import { CorralError } from '../util/errors.ts';
import type { SandboxBackend } from './types.ts';

export interface SandboxRegistry {
  get(name: string): SandboxBackend;
  list(): SandboxBackend[];
}

export function createSandboxRegistry(backends: SandboxBackend[]): SandboxRegistry {
  const byName = new Map(backends.map((b) => [b.name, b]));
  return {
    get(name) {
      const found = byName.get(name);
      if (found === undefined) {
        throw new CorralError(
          'backend_unknown',
          `unknown sandbox backend '${name}'`,
          `known: ${[...byName.keys()].join(', ')}`,
        );
      }
      return found;
    },
    list: () => [...byName.values()],
  };
}
