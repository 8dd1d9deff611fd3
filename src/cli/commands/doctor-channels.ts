// corral doctor's channel lines: each channel in channels.yaml with the running host's view of it (connected,
// retrying since …, token rejected) and the fix; without a running host, what can be checked offline.
import { channelSecretName, loadChannels } from '../../config/channels.ts';
import { channelStatusFile } from '../../host/channels/channel-host.ts';
import { readDaemonInfo } from '../../host/daemon/pidfile.ts';
import { openStore } from '../../host/open.ts';
import { errorMessage } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';
import { readChannelStatus } from './channel-status.ts';
import type { Check } from './doctor.ts';

export function channelChecks(ctx: CliContext): Check[] {
  let channels;
  try {
    channels = loadChannels(ctx.home).channels;
  } catch (err) {
    return [
      {
        name: 'channels',
        ok: false,
        detail: errorMessage(err),
        fix: 'fix channels.yaml (a running corral up keeps its channels meanwhile and picks up the fixed file)',
      },
    ];
  }
  const live =
    readDaemonInfo(ctx.home) === undefined ? undefined : readChannelStatus(channelStatusFile(ctx.home));
  const store = openStore(ctx.home);
  try {
    return Object.entries(channels).map(([name, c]): Check => {
      const label = `channel ${name}`;
      if (store.readSecret(channelSecretName(name)) === undefined)
        return {
          name: label,
          ok: false,
          detail: `${c.kind}: no token stored`,
          fix: `corral channel add ${c.kind} ${name} --replace`,
        };
      if (
        c.kind === 'telegram' &&
        c.webhook !== undefined &&
        store.readSecret(channelSecretName(name, 'webhook')) === undefined
      )
        return {
          name: label,
          ok: false,
          detail: 'telegram: webhook mode, but no webhook secret stored',
          fix: `corral channel add telegram ${name} --replace --webhook-url ${c.webhook.url}`,
        };
      const unpaired = c.kind === 'telegram' && c.owner === undefined;
      const s = live?.find((x) => x.name === name);
      if (s === undefined)
        return {
          name: label,
          ok: !unpaired,
          detail: `${c.kind}: host not running${unpaired ? '; not paired yet' : ''}`,
          ...(unpaired
            ? {
                fix: `send /pair CODE to the bot (a new code: corral channel add telegram ${name} --replace)`,
              }
            : {}),
        };
      switch (s.state) {
        case 'connected':
        case 'starting':
          return {
            name: label,
            ok: !unpaired,
            detail: `${c.kind}: ${s.state} since ${s.since}${unpaired ? '; not paired yet' : ''}`,
            ...(unpaired ? { fix: 'send /pair CODE to the bot from the chat that owns it' } : {}),
          };
        case 'retrying':
        case 'failed':
        case 'stopped':
          return {
            name: label,
            ok: false,
            detail: `${c.kind}: ${s.state === 'retrying' ? 'retrying' : s.state} since ${s.since}${s.detail ? `: ${s.detail}` : ''}`,
            fix:
              s.fix ??
              (s.state === 'retrying'
                ? 'check the network path to the platform; corral keeps retrying'
                : 'see corral logs'),
          };
      }
    });
  } finally {
    store.close();
  }
}
