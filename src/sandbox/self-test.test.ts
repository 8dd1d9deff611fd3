// The self-test's judge: every broken fact must be reported, a healthy set must pass.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { judge } from './self-test.ts';

const healthy = {
  uid: '0',
  fileowner: '1500000003',
  capeff: '0000000000000000',
  nonewprivs: '1',
  netdevs: 'lo,',
  usr: 'readonly',
  workspace: 'writable',
  tmp: 'writable',
  shadow: 'absent',
  hostdirs: 'absent',
};
const ids = { uid: 1_500_000_003, gid: 1_500_000_003 };

describe('self-test judge', () => {
  it('passes a healthy sandbox', () => {
    expect(judge(healthy, ids, 0)).toEqual([]);
    expect(judge({ ...healthy, fileowner: '1000' }, undefined, 1000)).toEqual([]);
  });

  it.each([
    ['fileowner', '0', /host root/],
    ['fileowner', '1500000004', /should belong to uid 1500000003/],
    ['uid', '1000', /should be root inside/],
    ['capeff', '00000000a80425fb', /capabilities/],
    ['nonewprivs', '0', /no_new_privs/],
    ['netdevs', 'eth0,lo,', /network interfaces/],
    ['usr', 'writable', /\/usr is writable/],
    ['workspace', 'readonly', /workspace/],
    ['tmp', 'readonly', /\/tmp/],
    ['shadow', 'visible', /shadow/],
    ['hostdirs', 'visible', /host directories/],
  ])('reports %s=%s', (key, value, message) => {
    const failures = judge({ ...healthy, [key]: value }, ids, 0);
    expect(failures.join('\n')).toMatch(message);
  });

  it('on a base image: the layer must be writable, and no host file or home visible', () => {
    const image = {
      ...healthy,
      usr: 'writable',
      shadow: 'visible',
      hostdirs: 'visible',
      rootid: '4242:4242',
      homeentries: '0',
    };
    expect(judge(image, ids, 0, 'image')).toEqual([]);
    expect(judge({ ...image, usr: 'readonly' }, ids, 0, 'image').join()).toMatch(/not writable/);
    const host = fs.statSync('/');
    expect(judge({ ...image, rootid: `${host.dev}:${host.ino}` }, ids, 0, 'image').join()).toMatch(
      /host's root/,
    );
    expect(judge({ ...image, homeentries: '2' }, ids, 0, 'image').join()).toMatch(/home/);
    expect(judge({ ...image, fileowner: '0' }, ids, 0, 'image').join()).toMatch(/host root/);
  });

  it('judges a VM by its own kernel and, as every sandbox, by its capabilities', () => {
    const vm = {
      ...healthy,
      usr: 'writable',
      rootid: '4242:4242',
      homeentries: '0',
      bootid: '0b6f4a57-2c2e-4d3b-9a51-5c4c1b1f7e10',
    };
    expect(judge(vm, ids, 0, 'image', true)).toEqual([]);
    expect(judge({ ...vm, capeff: '000001ffffffffff' }, ids, 0, 'image', true).join()).toMatch(
      /capabilities/,
    );
    const hostBoot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(judge({ ...vm, bootid: hostBoot }, ids, 0, 'image', true).join()).toMatch(/host's kernel/);
    expect(judge({ ...vm, bootid: '' }, ids, 0, 'image', true).join()).toMatch(/host's kernel/);
    expect(judge({ ...vm, nonewprivs: '0' }, ids, 0, 'image', true).join()).toMatch(/no_new_privs/);
  });

  it('treats missing facts as failures, not as passes', () => {
    expect(judge({}, ids, 0).length).toBeGreaterThanOrEqual(8);
  });
});
