// Connects a response's streams the way stream.pipeline does — each piped into the next, every error or premature
// close tears all of them down, `done` is called exactly once — without pipeline's per-call AbortController,
// whose abort on completion builds a DOMException with a stack: measurable on every proxied request.
import type { Duplex, Readable, Writable } from 'node:stream';

export function relay(
  source: Readable,
  stages: readonly Duplex[],
  sink: Writable,
  done: (err?: Error) => void,
): void {
  const readables: Readable[] = [source, ...stages];
  const all: (Readable | Writable)[] = [...readables, sink];
  let settled = false;
  const settle = (err?: Error): void => {
    if (settled) return;
    settled = true;
    if (err) for (const s of all) s.destroy();
    done(err);
  };
  let from: Readable = source;
  for (const stage of stages) from = from.pipe(stage);
  from.pipe(sink);
  for (const s of all) s.on('error', settle);
  for (const r of readables)
    r.once('close', () => {
      if (!r.readableEnded) settle(new Error('premature close'));
    });
  sink.once('finish', () => settle());
  sink.once('close', () => {
    if (!sink.writableFinished) settle(new Error('premature close'));
  });
}
