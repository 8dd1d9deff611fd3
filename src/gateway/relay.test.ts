import { PassThrough, Readable, Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { relay } from './relay.ts';

const collect = (): { sink: Writable; text: () => string } => {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  return { sink, text: () => Buffer.concat(parts).toString() };
};

it('carries every chunk through the stages and reports success once', async () => {
  const { sink, text } = collect();
  const calls: (Error | undefined)[] = [];
  await new Promise<void>((resolve) =>
    relay(Readable.from(['a', 'b', 'c']), [new PassThrough(), new PassThrough()], sink, (err) => {
      calls.push(err);
      resolve();
    }),
  );
  await new Promise((r) => setImmediate(r));
  expect(text()).toBe('abc');
  expect(calls).toEqual([undefined]);
});

it('tears every stream down on an error in the middle and reports it once', async () => {
  const source = new PassThrough();
  const middle = new PassThrough();
  const { sink } = collect();
  const calls: (Error | undefined)[] = [];
  const done = new Promise<void>((resolve) =>
    relay(source, [middle], sink, (err) => {
      calls.push(err);
      resolve();
    }),
  );
  source.write('x');
  middle.destroy(new Error('boom'));
  await done;
  await new Promise((r) => setImmediate(r));
  expect(calls.map((e) => e?.message)).toEqual(['boom']);
  expect(source.destroyed && sink.destroyed).toBe(true);
});

it('treats a sink closed before it finished (the client went away) as a premature close', async () => {
  const source = new PassThrough();
  const { sink } = collect();
  const done = new Promise<Error | undefined>((resolve) => relay(source, [], sink, resolve));
  source.write('partial');
  sink.destroy();
  expect((await done)?.message).toBe('premature close');
  expect(source.destroyed).toBe(true);
});
