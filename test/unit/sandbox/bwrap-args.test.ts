import { describe, expect, it } from 'vitest';
import { buildBwrapArgs, buildSignalResettingCommand } from '../../../src/core/sandbox/bwrap-args.js';
import type { SandboxLayout } from '../../../src/core/sandbox/layout.js';

const layout: SandboxLayout = {
  runtimeDir: '/run/user/1000',
  keep: ['/run/user/1000/gnupg'],
  readOnly: ['/home/u/.gitconfig'],
  masks: [
    { path: '/home/u/.ssh', type: 'dir', private: false },
    { path: '/home/u/aa', type: 'dir', private: false },
    { path: '/secure/pass', type: 'file', private: false },
    { path: '/tmp/tmux-1000', type: 'dir', private: true },
  ],
};

describe('buildBwrapArgs', () => {
  it('keeps the whole file system, then the runtime folder, read-only paths, and the masks last; own PID namespace; dies with run', () => {
    const args = buildBwrapArgs({ layout, cwd: '/home/u/project', infoFd: 3, seccompFd: 4, perms: true, command: ['/usr/bin/env', '--default-signal', '--', 'claude'] });
    expect(args).toEqual([
      '--dev-bind', '/', '/',
      '--proc', '/proc',
      '--perms', '0700', '--tmpfs', '/run/user/1000',
      '--bind', '/run/user/1000/gnupg', '/run/user/1000/gnupg',
      '--ro-bind', '/home/u/.gitconfig', '/home/u/.gitconfig',
      '--tmpfs', '/home/u/.ssh', '--remount-ro', '/home/u/.ssh',
      '--tmpfs', '/home/u/aa', '--remount-ro', '/home/u/aa',
      '--ro-bind', '/dev/null', '/secure/pass',
      '--perms', '0700', '--tmpfs', '/tmp/tmux-1000',
      '--unshare-pid', '--die-with-parent', '--info-fd', '3', '--seccomp', '4',
      '--chdir', '/home/u/project',
      '--', '/usr/bin/env', '--default-signal', '--', 'claude',
    ]);
    // Never a new session (it would take the terminal away) nor a new network (the gateway is on 127.0.0.1).
    expect(args).not.toContain('--new-session');
    expect(args).not.toContain('--unshare-net');
  });

  it('without --perms support or a seccomp program', () => {
    const args = buildBwrapArgs({ layout: { ...layout, runtimeDir: null, keep: [] }, cwd: '/', infoFd: 3, seccompFd: null, perms: false, command: ['true'] });
    expect(args).not.toContain('--perms');
    expect(args).not.toContain('--seccomp');
    expect(args).not.toContain('/run/user/1000');
  });
});

describe('buildSignalResettingCommand', () => {
  it('runs the command through env --default-signal, with PWD as the child had it (bwrap sets its own)', () => {
    expect(buildSignalResettingCommand('/usr/bin/env', 'claude', ['-p', 'hi'], '/home/u/link')).toEqual(['/usr/bin/env', '--default-signal', '--', 'PWD=/home/u/link', 'claude', '-p', 'hi']);
    expect(buildSignalResettingCommand('/usr/bin/env', 'claude', [], undefined)).toEqual(['/usr/bin/env', '--default-signal', '-u', 'PWD', '--', 'claude']);
  });

  it('a command whose name env would take for an assignment goes through sh', () => {
    expect(buildSignalResettingCommand('/usr/bin/env', './a=b', ['x'], undefined)).toEqual(['/usr/bin/env', '--default-signal', '-u', 'PWD', '--', '/bin/sh', '-c', 'exec "$0" "$@"', './a=b', 'x']);
  });
});
