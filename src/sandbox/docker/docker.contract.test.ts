// The Docker backend against a real dockerd: the shared contract (runc, and gVisor when dockerd has runsc), then
// its own cases. One file, so its containers never run beside another Docker test file's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { describeLayerContract } from '../layer.contract.ts';
import { runLimitsContract } from '../limits.contract.ts';
import { dropLayerContainer, homeId, LABEL } from './containers.ts';
import { selfTest } from '../self-test.ts';
import { createDockerBackend } from './backend.ts';
import { dockerEscapeCases } from './escape.cases.ts';
import { dockerLayerCases } from './layer.cases.ts';
import { dockerLimitCases } from './limits.cases.ts';
import { dockerReapCases } from './reap.cases.ts';
import { testDaemon } from './test-daemon.ts';

const daemon = await testDaemon();
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-docker-contract-'));
afterAll(async () => {
  // the layer contract's agents keep their containers (that is the point): remove them with the home
  if (daemon.skip === undefined) {
    for (const c of await daemon.api.containerList({ [LABEL.home]: homeId(home) })) {
      const agent = c.Labels?.[LABEL.agent];
      if (agent !== undefined) await dropLayerContainer(daemon.api, homeId(home), agent);
      await daemon.api.containerRemove(c.Id);
    }
  }
  fs.rmSync(home, { recursive: true, force: true });
});

function backend(over: { homeDir?: string; runDir?: string; runtime?: string } = {}) {
  const defaultRoot = daemon.image;
  return createDockerBackend({
    log: silentLogger,
    homeDir: over.homeDir ?? home,
    runDir: over.runDir ?? path.join(home, 'run'),
    ...(over.runtime === undefined ? {} : { runtime: over.runtime }),
    ...(defaultRoot === undefined ? {} : { defaultRoot }),
  });
}

describe.skipIf(daemon.skip !== undefined)(`docker ${daemon.skip ?? ''}`, () => {
  it('runs with root remapped to an unprivileged uid range', async () => {
    expect(daemon.root?.uid).toBeGreaterThan(0);
    expect(await backend().probe()).toMatchObject({ ok: true });
  });

  it('passes the isolation self-test on the base image and leaves no container behind', async () => {
    const b = backend();
    const image = daemon.image;
    const result = await selfTest(b, {
      hostIds: daemon.root,
      ...(image === undefined ? {} : { image: { dir: image.imageDir, id: image.imageId } }),
    });
    expect(result.failures).toEqual([]);
    expect(result.facts['fileowner']).toBe(String(daemon.root?.uid));
    // the self-test dropped its scratch layer through resetLayer: no container of it is left
    expect(await daemon.api.containerInspect(`corral-${homeId(home)}-a-selftest`)).toBeUndefined();
  });

  runSandboxContract('docker', () => backend(), daemon.root);
  if (daemon.image !== undefined) {
    const image = { dir: daemon.image.imageDir, id: daemon.image.imageId };
    describeLayerContract('docker', () => backend(), daemon.root, image);
  }
  dockerLayerCases(daemon, backend);
  dockerEscapeCases(daemon, backend);
  dockerLimitCases(daemon, backend);
  dockerReapCases(daemon, backend);
  // a home of its own: the contract's reap() between cases must not touch the cases above
  const limitsHome = path.join(home, 'limits-home');
  runLimitsContract('docker', () => backend({ homeDir: limitsHome, runDir: path.join(limitsHome, 'run') }), {
    hostIds: daemon.root,
  });
});

const noRunsc =
  daemon.skip ?? (daemon.runtimes.includes('runsc') ? undefined : 'dockerd has no runsc runtime');
describe.skipIf(noRunsc !== undefined)(`docker with gVisor ${noRunsc ?? ''}`, () => {
  runSandboxContract('docker+runsc', () => backend({ runtime: 'runsc' }), daemon.root);
  dockerEscapeCases(daemon, (s) => backend({ ...s, runtime: 'runsc' }), { gvisor: true });
  const limitsHome = path.join(home, 'limits-runsc-home');
  runLimitsContract(
    'docker+runsc',
    () => backend({ homeDir: limitsHome, runDir: path.join(limitsHome, 'run'), runtime: 'runsc' }),
    { hostIds: daemon.root, searchableVolume: true },
  );
});
