// readWhenChanged: one parse per version of a file; a rewrite (rename over it, as corral saves) is seen at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readWhenChanged } from './file-cache.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-cache-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

it('parses once per version and lets the loader explain a missing file', () => {
  const file = path.join(dir, 'a.yaml');
  let loads = 0;
  const read = readWhenChanged((f) => {
    loads++;
    if (!fs.existsSync(f)) throw new Error('no such agent');
    return fs.readFileSync(f, 'utf8');
  });
  expect(() => read(file)).toThrow('no such agent');
  fs.writeFileSync(file, 'one');
  expect([read(file), read(file), read(file)]).toEqual(['one', 'one', 'one']);
  expect(loads).toBe(2);
  fs.writeFileSync(`${file}.tmp`, 'two');
  fs.renameSync(`${file}.tmp`, file);
  expect(read(file)).toBe('two');
  expect(loads).toBe(3);
});

it('remembers the answer for an absent file until the file appears', () => {
  const file = path.join(dir, 'policy.yaml');
  let loads = 0;
  const read = readWhenChanged((f) => {
    loads++;
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : 'default';
  });
  expect([read(file), read(file), read(file)]).toEqual(['default', 'default', 'default']);
  expect(loads).toBe(1);
  fs.writeFileSync(file, 'rules');
  expect(read(file)).toBe('rules');
  fs.rmSync(file);
  expect(read(file)).toBe('default');
  expect(loads).toBe(3);
});
