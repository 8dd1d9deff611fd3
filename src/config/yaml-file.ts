// Reads a YAML file through a zod schema; an error names the file, the field and the line.
import fs from 'node:fs';
import { LineCounter, parseDocument, stringify } from 'yaml';
import type { z } from 'zod';
import { CorralError } from '../util/errors.ts';

function describePath(p: PropertyKey[]): string {
  return p.length === 0 ? '(top level)' : p.map(String).join('.');
}

function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lc: LineCounter,
  p: PropertyKey[],
): number | undefined {
  for (let n = p.length; n >= 0; n--) {
    const node: unknown = doc.getIn(p.slice(0, n), true);
    if (node !== null && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
      const start: unknown = node.range[0];
      if (typeof start === 'number') return lc.linePos(start).line;
    }
  }
  return undefined;
}

export function parseYaml<S extends z.ZodType>(file: string, text: string, schema: S): z.infer<S> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    const line = lc.linePos(syntax.pos[0]).line;
    throw new CorralError(
      'config_invalid',
      `${file}:${line}: YAML syntax error: ${syntax.message.split('\n')[0]}`,
    );
  }
  const parsed = schema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 5).map((issue) => {
    const line = lineOf(doc, lc, issue.path);
    return `${file}${line === undefined ? '' : `:${line}`}: ${describePath(issue.path)}: ${issue.message}`;
  });
  throw new CorralError('config_invalid', problems.join('\n'), `fix the file and try again`);
}

/** Reads a regular file without following a symlink at its last component. */
export function readRegularFile(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    if (err instanceof Error && 'code' in err && err.code === 'ELOOP') {
      throw new CorralError(
        'config_symlink',
        `${file} is a symlink; corral does not follow links for its own files`,
      );
    }
    throw err;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new CorralError('config_not_file', `${file} is not a regular file`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes YAML atomically: a reader sees the old file or the new one, never half of one. */
export function writeYaml(file: string, value: unknown, header = ''): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, header + stringify(value), { mode: 0o644, flag: 'wx' });
  fs.renameSync(tmp, file);
}
