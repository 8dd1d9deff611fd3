// `corral run` on the docker backend: host → Docker container (exec) → runtime → gateway socket → stand-in model.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDaemon } from '../../src/sandbox/docker/test-daemon.ts';
import { homeId, LABEL, snapshotRepo } from '../../src/sandbox/docker/containers.ts';
import { addProvider, createE2e, workspaceOf } from './harness.ts';

const daemon = await testDaemon();

describe.skipIf(daemon.skip !== undefined)(`corral run (docker) ${daemon.skip ?? ''}`, () => {
  let e: Awaited<ReturnType<typeof createE2e>>;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-ant-e2e-docker-key'],
      [['agent', 'add', 'dk', '--model', 'stand:claude-test', '--backend', 'docker']],
    ]);
  });
  afterAll(async () => {
    if (e === undefined) return;
    for (const c of await daemon.api.containerList({ [LABEL.home]: homeId(e.home) }))
      await daemon.api.containerRemove(c.Id);
    for (const ref of await daemon.api.imageRefs(snapshotRepo(homeId(e.home), 'dk')))
      await daemon.api.imageRemove(ref);
    await e.close();
  });

  it('runs a tool in the agent container and keeps its environment and workspace between runs', async () => {
    const first = await e.corral([
      'run',
      'dk',
      'bash: echo "uid $(id -u) on $(hostname)"; echo env > /etc/dk-env; echo ws > note',
    ]);
    expect(first.stderr).toContain('⚙ bash');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('tool said: uid 0 on corral');
    const note = path.join(workspaceOf(e.home, 'dk'), 'note');
    expect(fs.readFileSync(note, 'utf8')).toBe('ws\n');
    expect(fs.statSync(note).uid).toBe(daemon.root?.uid);

    const second = await e.corral(['run', 'dk', 'bash: cat /etc/dk-env /workspace/note']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('tool said: env\nws');
    // the model key went from the gateway to the model, never into the container
    expect(e.requests.every((q) => q.headers['x-api-key'] === 'sk-ant-e2e-docker-key')).toBe(true);
    const ours = await daemon.api.containerList({ [LABEL.home]: homeId(e.home) });
    expect(ours.map((c) => c.State)).toEqual(['exited']);
  }, 180_000); // the first run imports the base image into Docker and runs the isolation self-test

  it('agent rm --purge removes the agent container and the images its snapshots committed', async () => {
    const snaps = snapshotRepo(homeId(e.home), 'dk');
    expect((await e.corral(['agent', 'snapshot', 'dk', 'before-rm'])).code).toBe(0);
    expect(await daemon.api.imageRefs(snaps)).toEqual([`${snaps}:before-rm`]);
    const rm = await e.corral(['agent', 'rm', 'dk', '--purge']);
    expect(rm.stderr).toBe('');
    expect(rm.code).toBe(0);
    expect(await daemon.api.imageRefs(snaps)).toEqual([]);
    expect(await daemon.api.containerList({ [LABEL.home]: homeId(e.home) })).toEqual([]);
  }, 120_000);
});
