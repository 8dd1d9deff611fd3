// The systemd unit corral service install writes: what it runs, how it stops, and quoting of odd paths.
import { describe, expect, it } from 'vitest';
import { serviceUnit, userUnitDir } from './service.ts';

describe('corral service install', () => {
  it('runs corral up in the foreground with the home, and stops it with SIGTERM after the grace period', () => {
    const unit = serviceUnit({
      node: '/usr/bin/node',
      bin: '/opt/corral/bin/corral.js',
      home: '/home/ann/.corral',
      port: 7070,
      listen: '127.0.0.1',
      graceMs: 30_000,
    });
    expect(unit).toBe(
      [
        '[Unit]',
        'Description=corral: bounded AI agents (corral up)',
        'After=network-online.target',
        'Wants=network-online.target',
        '',
        '[Service]',
        'Type=simple',
        'Environment="CORRAL_HOME=/home/ann/.corral"',
        'ExecStart="/usr/bin/node" "/opt/corral/bin/corral.js" "up" "--port" "7070" "--listen" "127.0.0.1" "--grace" "30s"',
        'KillSignal=SIGTERM',
        'KillMode=mixed',
        'TimeoutStopSec=60',
        'Restart=on-failure',
        'RestartSec=5',
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    );
  });

  it('quotes spaces, quotes, $ and % so systemd passes them through literally', () => {
    const unit = serviceUnit({
      node: '/usr/bin/node',
      bin: '/srv/my "corral"/bin/corral.js',
      home: '/srv/100% $HOME',
      port: 8080,
      listen: '0.0.0.0',
      graceMs: 5_000,
    });
    expect(unit).toContain('Environment="CORRAL_HOME=/srv/100%% $$HOME"');
    expect(unit).toContain('"/srv/my \\"corral\\"/bin/corral.js"');
    expect(unit).toContain('TimeoutStopSec=35');
  });

  it('puts the unit in the user’s systemd directory', () => {
    expect(userUnitDir({ HOME: '/home/ann' })).toBe('/home/ann/.config/systemd/user');
    expect(userUnitDir({ HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/systemd/user');
  });
});
