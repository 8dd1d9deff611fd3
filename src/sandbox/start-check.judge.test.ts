// The start self-test's judge on its own: each check fails on the fact it is about, and only on that.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StartReport } from '../protocol/frames.ts';
import { judgeStartReport } from './start-check.ts';
import type { AppliedLimits } from './types.ts';
import { DEFAULT_LIMITS } from './types.ts';

const h = (v: string): string => crypto.createHash('sha256').update(v).digest('hex').slice(0, 32);
const applied: AppliedLimits = {
  memoryBytes: 'cgroup-v1',
  cpus: 'cgroup-v1',
  maxProcesses: 'cgroup-v1',
  maxOpenFiles: 'rlimit',
  maxFileBytes: 'rlimit',
  diskBytes: 'quota',
};
const env = { PATH: '/usr/bin:/bin', CORRAL_GATEWAY_SOCKET: '/run/corral/gateway.sock' };
const good: StartReport = {
  facts: {
    uid: '0',
    capeff: '0000000000000000',
    capbnd: '0000000000000000',
    nofile: String(DEFAULT_LIMITS.maxOpenFiles),
    fsize: String(DEFAULT_LIMITS.maxFileBytes),
    devices: 'full,null,ptmx,pts/0,pts/ptmx,random,tty,urandom,zero',
    procsys: 'EROFS',
    gateway: 'reachable',
    memcg: String(DEFAULT_LIMITS.memoryBytes),
    pidscg: String(DEFAULT_LIMITS.maxProcesses),
  },
  env: { PATH: h(env.PATH), CORRAL_GATEWAY_SOCKET: h(env.CORRAL_GATEWAY_SOCKET), HOSTNAME: h('corral') },
};
const judge = (r: StartReport | undefined, over: { secrets?: string[] } = {}) =>
  judgeStartReport(r, { env, limits: DEFAULT_LIMITS, applied, ...over });
const withFacts = (facts: Record<string, string>): StartReport => ({
  ...good,
  facts: { ...good.facts, ...facts },
});

describe('judgeStartReport', () => {
  it('passes a sandbox that is as configured', () => {
    expect(judge(good)).toEqual([]);
  });

  it('fails closed without a report', () => {
    expect(judge(undefined)).toEqual(['the runtime sent no self-test report']);
  });

  it.each([
    [{ gateway: 'ECONNREFUSED' }, 'the gateway is not reachable (ECONNREFUSED)'],
    [{ nofile: '1048576' }, 'the open-file limit reads 1048576, configured 4096'],
    [{ fsize: 'unlimited' }, 'the file size limit reads unlimited, configured 4294967296'],
    [{ memcg: '9223372036854771712' }, 'the memory limit reads 9223372036854771712, configured 536870912'],
    [{ pidscg: 'max' }, 'the process limit reads max, configured 512'],
    [{ devices: 'kvm,null' }, 'devices beyond the minimal set: kvm'],
    [{ procsys: 'writable' }, '/proc/sys is writable'],
    [{ capeff: '0000000000200000' }, 'capabilities in the effective set (0000000000200000)'],
    [{ capbnd: '000001ffffffffff' }, 'capabilities in the bounding set (000001ffffffffff)'],
  ])('fails on %o', (facts, failure) => {
    expect(judge(withFacts(facts))).toEqual([failure]);
  });

  it('judges a VM like every other sandbox: its own kernel is no excuse for devices, /proc/sys or capabilities', () => {
    expect(judge(withFacts({ devices: 'null,vda,vport3p1' }))).toEqual([
      'devices beyond the minimal set: vda, vport3p1',
    ]);
    expect(judge(withFacts({ capeff: '000001ffffffffff', capbnd: '000001ffffffffff' }))).toEqual([
      'capabilities in the effective set (000001ffffffffff)',
      'capabilities in the bounding set (000001ffffffffff)',
    ]);
  });

  it('finds a secret value, a variable the host did not set and a changed one', () => {
    const r: StartReport = {
      ...good,
      env: { ...good.env, PATH: h('/tmp/evil'), LEAK: h('sk-live-123') },
    };
    expect(judge(r, { secrets: ['sk-live-123'] })).toEqual([
      'a secret value is in the environment: LEAK',
      'variables the host did not set are in the environment: LEAK',
      'variables changed on the way in: PATH',
    ]);
  });
});
