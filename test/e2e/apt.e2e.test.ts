// apt-get install inside a sandbox, through the gateway, from a local apt repository a test origin in a network
// namespace serves (allowed by an explicit IP:port rule); the package is still there in the next session.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContractDeb, CONTRACT_PACKAGE } from '../../src/sandbox/layer.contract.ts';
import { layerAvailability } from '../../src/sandbox/layer/available.ts';
import { testImageBlocker } from '../fixtures/base-image.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';
import { canCreateNetns, startNetnsOrigin } from './netns.ts';
import type { NetnsOrigin } from './netns.ts';

const PORT = 8080;
const hasDpkgDeb = spawnSync('dpkg-deb', ['--version']).status === 0;
const ready =
  hasBwrap && canCreateNetns && hasDpkgDeb && layerAvailability(true).ok && testImageBlocker() === undefined;

/** A flat repository (`deb [trusted=yes] URL ./`): the .deb, its Packages index and a Release listing it. */
function writeRepo(dir: string): void {
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo, { recursive: true });
  const deb = buildContractDeb(dir);
  const data = fs.readFileSync(deb);
  fs.writeFileSync(path.join(repo, 'hello.deb'), data);
  const sha = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
  const packages = [
    `Package: ${CONTRACT_PACKAGE}`,
    'Version: 1.0',
    'Architecture: all',
    'Maintainer: corral <corral@localhost>',
    `Filename: ./hello.deb`,
    `Size: ${data.length}`,
    `SHA256: ${sha(data)}`,
    'Description: contract test package',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(repo, 'Packages'), packages);
  fs.writeFileSync(
    path.join(repo, 'Release'),
    `Date: ${new Date().toUTCString()}\nSHA256:\n ${sha(packages)} ${Buffer.byteLength(packages)} Packages\n`,
  );
}

describe.skipIf(!ready)('apt-get install through the gateway (bwrap on the base image)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let origin: NetnsOrigin;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-apt-'));
    fs.chmodSync(dir, 0o755);
    writeRepo(dir);
    origin = await startNetnsOrigin([PORT], { staticDir: dir });
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'K'),
      [['secret', 'set', 'K'], 'sk-model'],
      [['agent', 'add', 'pkg', '--model', 'stand:m', '--allow', `${origin.address}:${PORT}`]],
    ]);
  });
  afterAll(async () => {
    origin?.close();
    await e?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs a package from the allowed repository, and the agent keeps it', async () => {
    const source = `deb [trusted=yes] http://${origin.address}:${PORT}/static/repo ./`;
    const install = await e.corral([
      'run',
      'pkg',
      // the agent's own world: it replaces Debian's sources (not allowed here) with the local one
      `bash: rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*; echo '${source}' > /etc/apt/sources.list.d/local.list; apt-get update -qq 2>&1 | tail -3; apt-get install -y -qq ${CONTRACT_PACKAGE} > /dev/null 2>&1; echo "rc=$?"; ${CONTRACT_PACKAGE}`,
    ]);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('rc=0');
    expect(install.stdout).toContain('hello-from-deb');
    expect(origin.seen).toContain('GET /static/repo/hello.deb');

    const later = await e.corral([
      'run',
      'pkg',
      `bash: ${CONTRACT_PACKAGE}; dpkg-query -W -f '\${Status}' ${CONTRACT_PACKAGE}`,
    ]);
    expect(later.stdout).toContain('hello-from-deb');
    expect(later.stdout).toContain('install ok installed');
  });
});
