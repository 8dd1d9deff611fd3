// What a snapshot tar may contain before it is extracted: only the layer's upper/ and the workspace.
import { describe, expect, it } from 'vitest';
import { checkMemberNames } from './snapshot.ts';

describe('checkMemberNames', () => {
  it('accepts the layer and the workspace', () => {
    expect(() =>
      checkMemberNames(['layer/', 'layer/upper/', 'layer/upper/etc/y', 'workspace/', 'workspace/a b']),
    ).not.toThrow();
  });
  it.each([
    '/etc/passwd',
    'layer/upper/../../x',
    'layer/work/x',
    'other',
    '../workspace/x',
    'workspace/../../x',
  ])('refuses %s', (name) => {
    expect(() => checkMemberNames(['workspace/', name])).toThrow(/outside what a snapshot may hold/);
  });
});
