// A logger for the SDKs: their default is `console`, whose debug/info would write to stdout, the frame channel.
const write = (level: string, args: unknown[]): void => {
  process.stderr.write(
    `[model sdk ${level}] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`,
  );
};

export const stderrLogger = {
  error: (...args: unknown[]): void => write('error', args),
  warn: (...args: unknown[]): void => write('warn', args),
  info: (...args: unknown[]): void => write('info', args),
  debug: (...args: unknown[]): void => write('debug', args),
};
