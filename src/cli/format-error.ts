// How an error reaches the user: expected failures as one line plus a next step; bugs with their stack.
import { CorralError } from '../util/errors.ts';

export function formatError(err: unknown): string {
  if (err instanceof CorralError)
    return `corral: ${err.message}\n${err.hint === undefined ? '' : `  → ${err.hint}\n`}`;
  if (err instanceof Error)
    return `corral: unexpected error: ${err.stack ?? err.message}\n  → this is a bug; please report it\n`;
  return `corral: unexpected error: ${String(err)}\n`;
}
