import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bwrapRootArgv } from '../bwrap/root-argv.ts';
import { ociConfig } from '../oci/config.ts';
import type { SandboxSpec } from '../types.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { imageInterpreter } from './interpreter.ts';

const image = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-interp-')));
fs.mkdirSync(path.join(image, 'usr/local/bin'), { recursive: true });
fs.writeFileSync(path.join(image, 'usr/local/bin/node'), '');
fs.symlinkSync('node', path.join(image, 'usr/local/bin/nodejs'));
fs.symlinkSync('/etc', path.join(image, 'host-etc'));
afterAll(() => fs.rmSync(image, { recursive: true, force: true }));

const spec = (command: string[], root = true): SandboxSpec => ({
  sandboxId: 's1',
  agent: 'a',
  workspaceDir: '/h/data/a/workspace',
  runtimeDir: '/h/cache/rt',
  gatewayDir: '/h/run/s1/gw',
  etcDir: '/h/run/s1/etc',
  hostIds: { uid: 1_500_000_007, gid: 1_500_000_007 },
  env: { PATH: '/usr/bin:/bin' },
  limits: DEFAULT_LIMITS,
  extraReadOnly: [],
  command,
  ...(root ? { root: { imageDir: image, imageId: 'x', layerDir: '/h/data/a/layer' } } : {}),
});

describe('imageInterpreter', () => {
  it("names the image's own file for the command's program", () => {
    expect(imageInterpreter(spec(['/usr/local/bin/node', '/opt/corral/runtime.cjs']))).toEqual({
      source: path.join(image, 'usr/local/bin/node'),
      target: '/usr/local/bin/node',
    });
  });

  it('leaves alone what is not a plain file of the image: links, missing, relative or odd paths, no image', () => {
    for (const program of [
      '/usr/local/bin/nodejs',
      '/usr/bin/missing',
      'node',
      '/usr/local/bin/../bin/node',
      '/',
      '/usr/local/bin',
      '/host-etc/hostname',
    ])
      expect(imageInterpreter(spec([program]))).toBeUndefined();
    expect(imageInterpreter(spec(['/usr/local/bin/node'], false))).toBeUndefined();
    expect(imageInterpreter(spec([]))).toBeUndefined();
  });

  it('is bound read-only over its place by the OCI config and the bwrap argv', () => {
    const s = spec(['/usr/local/bin/node', '/opt/corral/runtime.cjs']);
    const source = path.join(image, 'usr/local/bin/node');
    const c = ociConfig(s, {
      runtime: 'runc',
      rootPath: '/b/rootfs',
      netnsPath: '/b/netns',
      swapLimit: true,
      nprocRlimit: false,
      arch: 'x64',
    });
    expect(c.mounts).toContainEqual({
      destination: '/usr/local/bin/node',
      type: 'bind',
      source,
      options: ['rbind', 'ro', 'nosuid', 'nodev'],
    });
    const argv = bwrapRootArgv(s, '/merged', { exists: () => true });
    const outer = argv.indexOf(source);
    expect(argv.slice(outer - 1, outer + 2)).toEqual(['--ro-bind', source, '/.corral/interpreter']);
    const inner = argv.lastIndexOf('/.corral/interpreter');
    expect(argv.slice(inner - 1, inner + 2)).toEqual([
      '--ro-bind',
      '/.corral/interpreter',
      '/usr/local/bin/node',
    ]);
  });
});
