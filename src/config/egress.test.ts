// Egress fields in agent files: defaults, and a bad pattern reported with its field and line at load time.
import { describe, expect, it } from 'vitest';
import { isCorralError } from '../util/errors.ts';
import { AgentConfig } from './schema.ts';
import { parseYaml } from './yaml-file.ts';

describe('agent egress fields', () => {
  it('default to preset none and no rules', () => {
    const a = parseYaml('a.yaml', 'name: a\nmodel: x:y\n', AgentConfig);
    expect([a.egress, a.allow]).toEqual(['none', []]);
  });

  it('name the field and line of a bad pattern', () => {
    const text = 'name: a\nmodel: x:y\negress: web\nallow:\n  - pypi.org\n  - "*.com"\n';
    let message = '';
    try {
      parseYaml('/h/agents/a.yaml', text, AgentConfig);
    } catch (err) {
      message = isCorralError(err) ? err.message : String(err);
    }
    expect(message).toBe(
      "/h/agents/a.yaml:6: allow.1: '*.com' would match every host under the public suffix 'com'; name a domain you trust",
    );
  });

  it('refuses an unknown preset', () => {
    expect(() => parseYaml('a.yaml', 'name: a\nmodel: x:y\negress: all\n', AgentConfig)).toThrow(
      /a.yaml:3: egress/,
    );
  });
});
