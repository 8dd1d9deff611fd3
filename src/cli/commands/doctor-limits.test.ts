// corral doctor's limit lines: one per limit and backend, with the mechanism and the backend's own note.
import { describe, expect, it } from 'vitest';
import { createBwrapBackend } from '../../sandbox/bwrap/backend.ts';
import { detectCgroups } from '../../sandbox/oci/cgroup.ts';
import { createGvisorBackend } from '../../sandbox/oci/gvisor.ts';
import { createRuncBackend } from '../../sandbox/oci/runc.ts';
import { silentLogger } from '../../util/log.ts';
import { limitChecks } from './doctor.ts';

const cg = detectCgroups();
const cgroupWords = cg.kind === 'v1' ? 'cgroup v1' : cg.kind === 'v2' ? 'cgroup v2' : 'not enforced';

describe('doctor: limit lines', () => {
  it('names the mechanism of every limit on runc, from the host it runs on', async () => {
    const lines = await limitChecks(createRuncBackend({ log: silentLogger, runDir: '/nonexistent' }));
    expect(lines.map((l) => l.name)).toEqual([
      'limit runc memory',
      'limit runc cpu',
      'limit runc processes',
      'limit runc open files',
      'limit runc file size',
      'limit runc disk',
    ]);
    expect(lines[0]?.detail).toBe(cgroupWords);
    expect(lines[3]?.detail).toBe('rlimit');
  });

  it("carries gVisor's notes: a memory hit ends the sandbox, refused forks are not reported", async () => {
    const lines = await limitChecks(createGvisorBackend({ log: silentLogger, runDir: '/nonexistent' }));
    expect(lines[0]?.detail).toMatch(/ends the sandbox, not one process/);
    expect(lines[2]?.detail).toMatch(/^the runtime \(enforced inside gVisor's kernel/);
  });

  it('says which bwrap limits have a cgroup here', async () => {
    const lines = await limitChecks(createBwrapBackend({ log: silentLogger }));
    expect(lines).toHaveLength(6);
    expect(lines[0]?.detail).toMatch(/^(cgroup v[12]|not enforced \(.+\))$/);
  });
});
