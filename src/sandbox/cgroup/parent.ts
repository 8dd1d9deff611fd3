// The `corral` cgroup that holds one child per sandbox, made once per hierarchy in the cgroup we run in (so it
// works inside containers and CI jobs). On v2 a cgroup with processes cannot hand controllers to children, so
// the nearest ancestor that can is used instead.
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../util/errors.ts';
import type { Controller, Hierarchy } from './detect.ts';

export const PARENT_NAME = 'corral';

export type Parent = { ok: true; dir: string; controllers: Controller[] } | { ok: false; reason: string };

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function hasControllers(file: string, wanted: Controller[]): boolean {
  try {
    const on = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
    return wanted.every((c) => on.includes(c));
  } catch {
    return false;
  }
}

function makeDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  fs.accessSync(dir, fs.constants.W_OK);
}

export function ensureParent(h: Hierarchy): Parent {
  if (h.version === 1) {
    const dir = path.join(h.ownDir, PARENT_NAME);
    try {
      makeDir(dir);
      return { ok: true, dir, controllers: h.controllers };
    } catch (err) {
      return { ok: false, reason: `cannot create ${dir}: ${errorMessage(err)}` };
    }
  }
  const enable = h.controllers.map((c) => `+${c}`).join(' ');
  const tried: string[] = [];
  for (let level = h.ownDir; ; level = path.dirname(level)) {
    const dir = path.join(level, PARENT_NAME);
    try {
      const sub = path.join(level, 'cgroup.subtree_control');
      if (!hasControllers(sub, h.controllers)) write(sub, enable);
      makeDir(dir);
      const ours = path.join(dir, 'cgroup.subtree_control');
      if (!hasControllers(ours, h.controllers)) write(ours, enable);
      return { ok: true, dir, controllers: h.controllers };
    } catch (err) {
      tried.push(`${level}: ${errorMessage(err)}`);
    }
    if (level === h.mountPoint || !level.startsWith(h.mountPoint)) break;
  }
  return {
    ok: false,
    reason: `no cgroup v2 directory hands out ${h.controllers.join(', ')} (${tried.join('; ')})`,
  };
}
