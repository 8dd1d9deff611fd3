// The runtime's interpreter (the sandbox command's program, e.g. /usr/local/bin/node) is bound read-only from the
// base image itself over its place in the agent's root. Through the agent's fuse layer, every fresh mount starts
// with a cold page cache, and each sandbox start paid for reading Node's 100 MB binary through fuse (about a
// quarter of start → ready on runc); straight from the image, the host's page cache serves every sandbox. It also
// keeps the program that runs the start self-test out of the agent's hands: a node the agent puts in its layer
// at that path is not what the runtime runs (the agent sees the image's there as well, read-only).
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxSpec } from '../types.ts';

export interface ImageFile {
  /** the file in the base image on the host */
  source: string;
  /** where it appears inside the sandbox */
  target: string;
}

/**
 * The command's program as a file of the base image, when it is one: an absolute, normalised path naming a
 * regular file (not a link: a link would be resolved in the agent's root) inside the image. Otherwise undefined,
 * and the program is read through the agent's layer as before.
 */
export function imageInterpreter(spec: Pick<SandboxSpec, 'root' | 'command'>): ImageFile | undefined {
  const program = spec.command[0];
  if (spec.root === undefined || program === undefined) return undefined;
  if (!path.isAbsolute(program) || path.normalize(program) !== program || program === '/') return undefined;
  try {
    const image = fs.realpathSync(spec.root.imageDir);
    const source = path.join(image, program);
    // a plain file, reached without leaving the image (its /bin is a link to usr/bin, say)
    if (!fs.lstatSync(source).isFile() || !fs.realpathSync(source).startsWith(image + '/')) return undefined;
    return { source: fs.realpathSync(source), target: program };
  } catch {
    return undefined;
  }
}
