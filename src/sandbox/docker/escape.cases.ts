// Docker: what a hostile agent tries first from inside its container, checked from inside and from the host.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxBackend } from '../types.ts';
import type { Scratch, TestDaemon } from './test-daemon.ts';
import { createScratch, runToEnd } from './test-daemon.ts';

const T = 60_000;

/** Each line `name=value`; the test judges the values. */
const PROBE = [
  'echo "sockets=$(ls /var/run/docker.sock /run/docker.sock /run/containerd 2>/dev/null | wc -l)"',
  'if mount -t tmpfs t /mnt 2>/dev/null; then echo mount=ok; else echo mount=denied; fi',
  'if unshare -U -r true 2>/dev/null; then echo userns=ok; else echo userns=denied; fi',
  'echo "devices=$(find /dev -type b -o -type c | sort | tr "\\n" ",")"',
  'echo "capeff=$(grep CapEff /proc/self/status | cut -f2)"',
  'echo "capbnd=$(grep CapBnd /proc/self/status | cut -f2)"',
  'echo "nonewprivs=$(grep NoNewPrivs /proc/self/status | cut -f2)"',
  'echo "seccomp=$(grep "^Seccomp:" /proc/self/status | cut -f2)"',
  'echo "uidmap=$(tr -s " " < /proc/self/uid_map | sed "s/^ //")"',
  'if echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then echo procsys=writable; else echo procsys=readonly; fi',
  'if touch /sys/corral 2>/dev/null; then echo sys=writable; else echo sys=readonly; fi',
  'echo "netdevs=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" ",")"',
  'echo "pid1=$(tr "\\0" " " < /proc/1/cmdline)"',
  'echo "uid=$(id -u)"',
  'touch /workspace/made-inside && echo workspace=writable',
].join('\n');

/**
 * Under gVisor the agent talks to gVisor's own kernel: it may make user namespaces and sees gVisor's emulated
 * /dev/fuse and /dev/net/tun there, and its /proc shows gVisor's view (no NoNewPrivs or Seccomp line, an
 * identity uid_map). What the host sees (file owners, sockets, capabilities, devices of the host) is the same.
 */
const GVISOR_DEVICES = ['/dev/fuse', '/dev/net/tun'];

export function dockerEscapeCases(
  daemon: TestDaemon,
  makeBackend: (s: { homeDir: string; runDir: string }) => SandboxBackend,
  opts: { gvisor: boolean } = { gvisor: false },
): void {
  describe(`docker: escape attempts${opts.gvisor ? ' (gVisor)' : ''}`, () => {
    let s: Scratch;
    const facts: Record<string, string> = {};
    let hostPid: number | undefined;
    beforeAll(async () => {
      s = createScratch(daemon);
      const b = makeBackend({ homeDir: s.root, runDir: s.runDir });
      const sandbox = await b.start(s.spec('escape', ['/bin/sh', '-c', PROBE]));
      hostPid = sandbox.pid;
      const r = await runToEnd(sandbox);
      await b.resetLayer?.('escape', s.layerDir('escape'));
      for (const line of r.out.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) facts[line.slice(0, i)] = line.slice(i + 1);
      }
    }, T);
    afterAll(() => s.cleanup());

    it('has no Docker or containerd socket and cannot mount', () => {
      expect(facts['sockets']).toBe('0');
      expect(facts['mount']).toBe('denied');
    });

    // Not cases for gVisor, which has a kernel of its own (not skips: nothing is missing; they do not apply).
    if (!opts.gvisor)
      it('cannot make a user namespace (the default seccomp profile refuses it)', () => {
        expect(facts['userns']).toBe('denied');
      });

    it('sees no host device, only the harmless character devices', () => {
      const devices = (facts['devices'] ?? '').split(',').filter((d) => d !== '');
      expect(devices.length).toBeGreaterThan(0);
      const harmless = ['/dev/full', '/dev/null', '/dev/random', '/dev/tty', '/dev/urandom', '/dev/zero'];
      if (opts.gvisor) harmless.push(...GVISOR_DEVICES);
      expect(devices.filter((d) => !harmless.includes(d) && !d.startsWith('/dev/pts/'))).toEqual([]);
    });

    it('is root without capabilities', () => {
      expect(facts['uid']).toBe('0');
      expect(facts['capeff']).toMatch(/^0+$/);
      expect(facts['capbnd']).toMatch(/^0+$/);
    });

    if (!opts.gvisor)
      it('runs with no_new_privs, a seccomp filter and root mapped to the remapped range', () => {
        expect(facts['nonewprivs']).toBe('1');
        expect(facts['seccomp']).toBe('2');
        expect(facts['uidmap']).toBe(`0 ${daemon.root?.uid ?? '?'} 65536`);
      });

    it('gives a file root makes in the workspace to the unprivileged remapped uid outside', () => {
      expect(facts['workspace']).toBe('writable');
      const st = fs.lstatSync(path.join(s.workspace('escape'), 'made-inside'));
      expect(st.uid).toBe(daemon.root?.uid);
      expect(st.uid).toBeGreaterThanOrEqual(65_536);
      expect(st.gid).toBe(daemon.root?.gid);
    });

    it('names the host pid of the container, which is gone once the sandbox ended', () => {
      expect(hostPid).toBeGreaterThan(1);
      expect(fs.existsSync(`/proc/${String(hostPid)}`)).toBe(false);
    });

    it('has read-only /proc/sys and /sys, loopback only, and its own process tree', () => {
      expect(facts['procsys']).toBe('readonly');
      expect(facts['sys']).toBe('readonly');
      expect(facts['netdevs']).toBe('lo,');
      expect(facts['pid1']).toMatch(/docker-init -- sleep infinity/);
    });
  });
}
