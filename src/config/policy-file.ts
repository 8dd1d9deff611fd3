// Loads $CORRAL_HOME/policy.yaml into a LoadedPolicy. A missing file is an empty policy; a file that does not
// parse is a broken policy (every decision a denial) whose error names the file and line, as other loaders do.
import fs from 'node:fs';
import { isMap, isSeq, parseDocument } from 'yaml';
import { compilePolicy, EMPTY_POLICY } from '../policy/policy.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import { CorralError, errorMessage } from '../util/errors.ts';
import type { HomePaths } from './home.ts';
import { OperatorEntry, PolicyFile, PolicyRule } from './policy.ts';
import { parseYaml, readRegularFile } from './yaml-file.ts';

const HEADER =
  '# corral policy: who may do what. Evaluation order and examples: docs/governance.md\nversion: 1\nrules: []\n';

/** Parses the file; throws a CorralError (file:line) when it is invalid. Missing: undefined. */
export function readPolicyFile(file: string): PolicyFile | undefined {
  const text = readRegularFile(file);
  return text === undefined ? undefined : parseYaml(file, text, PolicyFile);
}

/** Never throws: an unusable file yields a policy that denies everything, with the reason. */
export function loadPolicy(file: string): LoadedPolicy {
  try {
    const parsed = readPolicyFile(file);
    return parsed === undefined ? { ...EMPTY_POLICY, source: file } : compilePolicy(parsed, file);
  } catch (err) {
    return { ok: false, source: file, error: errorMessage(err) };
  }
}

export function loadHomePolicy(home: HomePaths): LoadedPolicy {
  return loadPolicy(home.policyFile);
}

/**
 * Appends one rule (`approve --always`), keeping the file's comments and layout. Refuses to touch a file that
 * does not parse: writing into a broken policy could make it look valid.
 */
export function appendPolicyRule(file: string, rule: PolicyRule): void {
  const checked = PolicyRule.parse(rule);
  const text = readRegularFile(file) ?? HEADER;
  readPolicyFileText(file, text);
  const doc = parseDocument(text);
  const rules = doc.get('rules', true);
  if (rules === undefined || rules === null) doc.set('rules', doc.createNode([checked]));
  else if (isSeq(rules)) rules.add(doc.createNode(checked));
  else throw new CorralError('config_invalid', `${file}: rules is not a list`);
  if (!isMap(doc.contents)) throw new CorralError('config_invalid', `${file}: not a mapping`);
  const next = String(doc);
  readPolicyFileText(file, next); // what we write must load
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, next, { mode: 0o644, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * Adds, replaces or (entry undefined) removes one operator, keeping the file's comments and layout. Like
 * appendPolicyRule it refuses a file that does not parse, and checks that what it writes loads.
 */
export function setPolicyOperator(file: string, name: string, entry: OperatorEntry | undefined): void {
  const text = readRegularFile(file) ?? HEADER;
  readPolicyFileText(file, text);
  const doc = parseDocument(text);
  if (!isMap(doc.contents)) throw new CorralError('config_invalid', `${file}: not a mapping`);
  if (entry === undefined) doc.deleteIn(['operators', name]);
  else doc.setIn(['operators', name], doc.createNode(OperatorEntry.parse(entry), { flow: true }));
  const next = String(doc);
  readPolicyFileText(file, next);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, next, { mode: 0o644, flag: 'wx' });
  fs.renameSync(tmp, file);
}

function readPolicyFileText(file: string, text: string): PolicyFile {
  return parseYaml(file, text, PolicyFile);
}
