// The one error class for expected failures: a string code, a message, and the next step for the user.
export class CorralError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CorralError';
  }
}

export function isCorralError(err: unknown): err is CorralError {
  return err instanceof CorralError;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
