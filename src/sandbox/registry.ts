// Backends by name. New backends register here; the host asks for one by the agent's `backend` field.
import { CorralError } from '../util/errors.ts';
import type { SandboxBackend } from './types.ts';

export interface SandboxRegistry {
  get(name: string): SandboxBackend;
  list(): SandboxBackend[];
}

/**
 * Fail closed on host-folder mounts: a backend that does not declare `mounts: true` refuses a spec with mounts
 * instead of starting a sandbox without them (the agent would silently miss data, or a later backend change would
 * silently widen access).
 */
export function refuseMountsUnlessSupported(b: SandboxBackend): SandboxBackend {
  if (b.mounts === true) return b;
  const start = b.start.bind(b);
  b.start = (spec) =>
    (spec.mounts ?? []).length === 0
      ? start(spec)
      : Promise.reject(
          new CorralError(
            'sandbox_mounts_unsupported',
            `the ${b.name} backend cannot mount host folders (agent ${spec.agent} lists mounts)`,
            'use the bwrap backend for this agent, or remove its mounts',
          ),
        );
  return b;
}

export function createSandboxRegistry(backends: SandboxBackend[]): SandboxRegistry {
  const byName = new Map(backends.map((b) => [b.name, refuseMountsUnlessSupported(b)]));
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
