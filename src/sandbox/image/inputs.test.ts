// The image id is a hash of every input: the same inputs give the same id, any change gives a new one.
import { describe, expect, it } from 'vitest';
import { stepOfLine } from './bootstrap.ts';
import { imageIdOf, IMAGE_PACKAGES, planInputs } from './inputs.ts';
import type { ImageInputs } from './types.ts';
import { IMAGE_ID_RE } from './types.ts';

const base = (): ImageInputs => planInputs({ nodePath: process.execPath, tool: 'mmdebstrap', mode: 'root' });

describe('image inputs', () => {
  it('plans what an agent expects, with the running node', () => {
    const inputs = base();
    expect(inputs.packages).toEqual(
      expect.arrayContaining(['bash', 'ca-certificates', 'curl', 'git', 'python3', 'procps', 'libstdc++6']),
    );
    expect(inputs.node.version).toBe(process.version);
    expect(inputs.node.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs.sources.every((s) => s.startsWith('deb http://deb.debian.org/'))).toBe(true);
  });

  it('gives the same id for the same inputs, whatever the key order', () => {
    const a = base();
    const { scriptVersion, npm, node, tool, ...rest } = a;
    const reordered: ImageInputs = { scriptVersion, npm, node, tool, ...rest };
    expect(imageIdOf(a)).toMatch(IMAGE_ID_RE);
    expect(imageIdOf(base())).toBe(imageIdOf(a));
    expect(imageIdOf(reordered)).toBe(imageIdOf(a));
  });

  it('gives a new id when any input changes', () => {
    const a = base();
    const changed: ImageInputs[] = [
      { ...a, suite: 'trixie' },
      { ...a, mirror: 'http://mirror.example/debian' },
      { ...a, packages: [...IMAGE_PACKAGES, 'jq'] },
      { ...a, node: { ...a.node, sha256: '0'.repeat(64) } },
      { ...a, node: { ...a.node, version: 'v22.0.0' } },
      { ...a, npm: null },
      { ...a, tool: 'debootstrap' },
      { ...a, mode: 'unshare' },
      { ...a, scriptVersion: a.scriptVersion + 1 },
    ];
    const ids = new Set([a, ...changed].map(imageIdOf));
    expect(ids.size).toBe(changed.length + 1);
  });

  it("maps the bootstrap tool's log lines to steps", () => {
    expect(stepOfLine('I: running apt-get update...')).toBe('resolving');
    expect(stepOfLine('I: downloading packages with apt...')).toBe('downloading');
    expect(stepOfLine('I: extracting archives...')).toBe('extracting');
    expect(stepOfLine('I: installing remaining packages inside the chroot...')).toBe('installing');
    expect(stepOfLine('I: Retrieving libc6 2.36-9')).toBe('downloading');
    expect(stepOfLine('I: Configuring libc-bin...')).toBe('installing');
    expect(stepOfLine('W: something else')).toBeUndefined();
  });
});
