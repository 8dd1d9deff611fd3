// corral agent set NAME --channel CHANNEL[:chat] [--trigger mention|all|/regex/] [--unbind CHANNEL[:chat]]:
// the agent file's channel bindings. A broken pattern, or one that matches an empty message, is refused here.
import type { Command } from 'commander';
import type { ChannelBinding } from '../../config/channels.ts';
import { compileTrigger, loadChannels, parseBindingTarget } from '../../config/channels.ts';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { collect } from './agent-set.ts';

export interface ChannelOptions {
  channel: string[];
  unbind: string[];
  trigger?: string;
}

export function addChannelOptions(cmd: Command): Command {
  return cmd
    .option(
      '--channel <channel[:chat]>',
      'bind the agent to a channel, or one chat of it (repeatable)',
      collect,
      [],
    )
    .option('--trigger <trigger>', 'in groups: mention (default), all, or /pattern/flags', undefined)
    .option('--unbind <channel[:chat]>', 'remove a binding (repeatable)', collect, []);
}

export const channelFlagsGiven = (o: ChannelOptions): boolean => o.channel.length + o.unbind.length > 0;

function checkTrigger(t: string): string {
  if (t === 'mention' || t === 'all') return t;
  compileTrigger(t); // throws trigger_invalid with the reason
  return t;
}

export function nextChannels(current: readonly ChannelBinding[], o: ChannelOptions): ChannelBinding[] {
  if (o.trigger !== undefined && o.channel.length === 0)
    throw new CorralError(
      'invalid_argument',
      '--trigger goes with --channel',
      'corral agent set NAME --channel tg --trigger all',
    );
  const trigger = checkTrigger(o.trigger ?? 'mention');
  const same = (b: ChannelBinding, t: { channel: string; chat?: string }): boolean =>
    b.channel === t.channel && b.chat === t.chat;
  let out = [...current];
  for (const u of o.unbind.map(parseBindingTarget)) {
    if (!out.some((b) => same(b, u)))
      throw new CorralError(
        'invalid_argument',
        `the agent is not bound to ${u.chat === undefined ? u.channel : `${u.channel}:${u.chat}`}`,
      );
    out = out.filter((b) => !same(b, u));
  }
  for (const t of o.channel.map(parseBindingTarget))
    out = [...out.filter((b) => !same(b, t)), { ...t, trigger }];
  return out;
}

export function describeChannels(ctx: CliContext, bindings: readonly ChannelBinding[]): string {
  const known = loadChannels(ctx.home).channels;
  for (const b of bindings)
    if (known[b.channel] === undefined)
      ctx.err(`note: there is no channel ${b.channel} yet: corral channel add KIND ${b.channel}\n`);
  if (bindings.length === 0) return 'channels (none)';
  return (
    'channels ' +
    bindings.map((b) => `${b.channel}${b.chat === undefined ? '' : `:${b.chat}`} (${b.trigger})`).join(', ')
  );
}
