// `schedules:` in an agent file: good entries parse with their defaults; each wrong one is refused with the file,
// the line and the field it is wrong in.
import { describe, expect, it } from 'vitest';
import { AgentConfig } from './schema.ts';
import { parseYaml } from './yaml-file.ts';

const FILE = '/home/x/.corral/agents/ops.yaml';
const agentYaml = (schedules: string): string =>
  `name: ops\nmodel: anthropic:claude-test\nschedules:\n${schedules}`;
const parse = (schedules: string) => parseYaml(FILE, agentYaml(schedules), AgentConfig);
const errorOf = (schedules: string): string => {
  try {
    parse(schedules);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('parsed without an error');
};

describe('schedules in an agent file', () => {
  it('reads cron, every and at entries with their defaults', () => {
    const a = parse(
      [
        '  - name: daily-report',
        '    cron: "0 9 * * mon-fri"',
        '    tz: Europe/Berlin',
        '    prompt: summarise yesterday',
        '  - name: poll',
        '    every: 30m',
        '    prompt: "  check the build  "',
        '    missed: skip',
        '    paused: true',
        '  - name: launch',
        '    at: "2030-01-31 09:00"',
        '    prompt: go',
        '',
      ].join('\n'),
    );
    expect(a.schedules).toEqual([
      {
        name: 'daily-report',
        cron: '0 9 * * mon-fri',
        tz: 'Europe/Berlin',
        prompt: 'summarise yesterday',
        missed: 'run',
        paused: false,
      },
      { name: 'poll', every: '30m', prompt: 'check the build', missed: 'skip', paused: true },
      { name: 'launch', at: '2030-01-31 09:00', prompt: 'go', missed: 'run', paused: false },
    ]);
    expect(AgentConfig.parse({ name: 'x', model: 'p:m' }).schedules).toEqual([]);
  });

  it.each([
    [
      '  - name: a\n    cron: "61 * * * *"\n    prompt: p\n',
      `${FILE}:5: schedules.0.cron: cron "61 * * * *": minute field: 61 is out of range 0-59`,
    ],
    [
      '  - name: a\n    cron: "0 0 30 2 *"\n    prompt: p\n',
      ':5: schedules.0.cron: cron "0 0 30 2 *" never fires',
    ],
    [
      '  - name: a\n    cron: "@daily"\n    tz: Mars/Olympus\n    prompt: p\n',
      ":6: schedules.0.tz: unknown time zone 'Mars/Olympus'",
    ],
    [
      '  - name: a\n    every: soon\n    prompt: p\n',
      ":5: schedules.0.every: every 'soon' is not a duration",
    ],
    [
      '  - name: a\n    every: 500ms\n    prompt: p\n',
      ':5: schedules.0.every: every 500ms is shorter than 1s',
    ],
    [
      '  - name: a\n    every: 1h\n    tz: UTC\n    prompt: p\n',
      ':6: schedules.0.tz: tz applies to cron and at, not every',
    ],
    ['  - name: a\n    at: tomorrow\n    prompt: p\n', ":5: schedules.0.at: at 'tomorrow' is not a time"],
    [
      '  - name: a\n    at: +10m\n    prompt: p\n',
      ':5: schedules.0.at: a delay has no fixed start in a file',
    ],
    ['  - name: a\n    prompt: p\n', ':4: schedules.0: give one of cron, every or at'],
    [
      '  - name: a\n    every: 1h\n    cron: "@daily"\n    prompt: p\n',
      ':4: schedules.0: give only one of cron, every and at (found cron, every)',
    ],
    ['  - name: a\n    every: 1h\n', ':4: schedules.0.prompt: '],
    ['  - name: a\n    every: 1h\n    prompt: "   "\n', ':6: schedules.0.prompt: a schedule needs a prompt'],
    ['  - name: Daily Report\n    every: 1h\n    prompt: p\n', ':4: schedules.0.name: lowercase letters'],
    ['  - name: a\n    every: 1h\n    prompt: p\n    missed: later\n', ':7: schedules.0.missed: '],
    [
      '  - name: a\n    every: 1h\n    prompt: p\n    when: now\n',
      ':4: schedules.0: Unrecognized key: "when"',
    ],
    [
      '  - name: a\n    every: 1h\n    prompt: p\n  - name: a\n    every: 2h\n    prompt: q\n',
      ":7: schedules.1.name: 'a' is used by an earlier entry",
    ],
  ])('refuses %j naming the field and line', (entries, message) => {
    expect(errorOf(entries)).toContain(message);
  });
});
