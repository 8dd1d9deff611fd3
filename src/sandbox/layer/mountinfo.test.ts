// mountinfo parsing and the fuse-overlayfs options for root and for an ordinary user.
import { describe, expect, it } from 'vitest';
import { fuseOptions } from './mount.ts';
import { parseMountinfo } from '../../util/mountinfo.ts';
import { layerMountsUnder } from './mountinfo.ts';

const SAMPLE = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '47 22 0:41 / /home/c/run/layers/a rw,nosuid,nodev,noatime - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0',
  '48 22 0:42 / /home/c/run/layers/with\\040space rw,nosuid - fuse.fuse-overlayfs fuse-overlayfs rw',
  '49 47 0:43 / /home/c/run/layers/a/proc rw - proc proc rw',
  '50 22 0:44 / /home/c/run-other/x rw - fuse.fuse-overlayfs fuse-overlayfs rw',
  '',
].join('\n');

describe('mountinfo', () => {
  it('finds fuse-overlayfs mounts under a directory, decoding escapes, deepest first', () => {
    const mounts = parseMountinfo(SAMPLE);
    expect(mounts[1]?.options).toEqual(['rw', 'nosuid', 'nodev', 'noatime']);
    expect(layerMountsUnder('/home/c/run', mounts)).toEqual([
      '/home/c/run/layers/with space',
      '/home/c/run/layers/a',
    ]);
  });
});

describe('fuseOptions', () => {
  const opts = { imageDir: '/img', layerDir: '/l', mountpoint: '/m', ids: { uid: 7, gid: 8 } };
  it('as root maps the agent uid to root in upper/ and lets it reach the mount', () => {
    expect(fuseOptions(opts, true)).toBe(
      'lowerdir=/img,upperdir=/l/upper,workdir=/l/work,uidmapping=0:7:1,gidmapping=0:8:1,squash_to_uid=7,squash_to_gid=8,allow_other,nosuid,nodev,noatime',
    );
  });
  it('as an ordinary user shows and stores every file as the caller', () => {
    expect(fuseOptions(opts, false)).toContain('squash_to_uid=7,squash_to_gid=8,nosuid');
    expect(fuseOptions(opts, false)).not.toContain('allow_other');
  });
});
