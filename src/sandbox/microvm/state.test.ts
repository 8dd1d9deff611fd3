// reapVms with real processes standing in for a dead corral's QEMU and virtiofsd (the VM part is in vm.test.ts).
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from '../../util/process-start.ts';
import { proc, reapVms, vmsDir, writeState } from './state.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vmstate-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A long-lived process whose command line carries `mark`, as QEMU's and virtiofsd's do. */
async function fake(mark: string): Promise<{ pid: number; start: string }> {
  const c = spawn('/bin/sh', ['-c', 'sleep 300; :', mark], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  const p = proc(c.pid);
  if (p === undefined) throw new Error('no start time');
  return p;
}

/** A corral that has exited: its pid and start time no longer name a live process. */
async function deadOwner(): Promise<{ pid: number; start: string }> {
  const c = spawn('/bin/true');
  await new Promise((r) => c.once('spawn', r));
  const p = proc(c.pid) ?? { pid: c.pid ?? 1, start: 'gone' };
  await new Promise((r) => c.once('exit', r));
  return p;
}

function vm(runDir: string, name: string): string {
  const dir = path.join(vmsDir(runDir), name);
  fs.mkdirSync(path.join(dir, 'sock'), { recursive: true });
  return dir;
}

describe('reapVms', () => {
  it("kills a dead corral's QEMU and virtiofsd and removes their run directory", async () => {
    const runDir = path.join(tmp, 'a');
    const dir = vm(runDir, 'orphan');
    const qemu = await fake('qemu-system-x86_64');
    const virtiofsd = await fake('/usr/lib/qemu/virtiofsd');
    writeState(dir, { owner: await deadOwner(), qemu, virtiofsd });
    const cleaned = await reapVms(runDir);
    expect(cleaned).toEqual([
      `qemu ${qemu.pid} of VM orphan`,
      `virtiofsd ${virtiofsd.pid} of VM orphan`,
      'run directory of VM orphan',
    ]);
    expect(processStartTime(qemu.pid)).toBeUndefined();
    expect(processStartTime(virtiofsd.pid)).toBeUndefined();
    expect(fs.existsSync(dir)).toBe(false);
    expect(await reapVms(runDir)).toEqual([]);
  });

  it("leaves a live corral's VM alone", async () => {
    const runDir = path.join(tmp, 'b');
    const dir = vm(runDir, 'live');
    const qemu = await fake('qemu-system-x86_64');
    writeState(dir, { owner: proc(process.pid) ?? { pid: 0, start: '' }, qemu });
    expect(await reapVms(runDir)).toEqual([]);
    expect(processStartTime(qemu.pid)).toBe(qemu.start);
    expect(fs.existsSync(dir)).toBe(true);
  });

  it('never kills a process that is not what the record says it is', async () => {
    const runDir = path.join(tmp, 'c');
    const dir = vm(runDir, 'forged');
    const bystander = await fake('not-a-vm');
    writeState(dir, { owner: await deadOwner(), qemu: bystander });
    expect(await reapVms(runDir)).toEqual(['run directory of VM forged']);
    expect(processStartTime(bystander.pid)).toBe(bystander.start);
  });
});
