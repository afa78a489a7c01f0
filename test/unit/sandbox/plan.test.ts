import { describe, expect, it } from 'vitest';
import { resolvePaths } from '../../../src/core/paths.js';
import { expandPath, planSandbox, type PlanInput } from '../../../src/core/sandbox/plan.js';

const env = {
  HOME: '/home/u',
  USER: 'u',
  XDG_RUNTIME_DIR: '/run/user/1000',
  DBUS_SESSION_BUS_ADDRESS: 'unix:path=/tmp/dbus-abc,guid=1',
  GNOME_KEYRING_CONTROL: '/run/user/1000/keyring',
  SSH_AUTH_SOCK: '/run/user/1000/gcr/ssh',
  WAYLAND_DISPLAY: 'wayland-0',
  AGENTAUTH_PASSPHRASE_FILE: '/secure/pass',
  AGENTAUTH_AUDIT_LOG: '/var/log/agentauth/audit.jsonl',
  AGENTAUTH_SOCK: '/run/agentauth.sock',
};

function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return { platform: 'linux', paths: resolvePaths({ ...env, AGENTAUTH_HOME: '/home/u/aa' }, 1000), env, uid: 1000, cwd: '/home/u/project', hide: [], readOnly: [], ...overrides };
}

describe('planSandbox', () => {
  it("protects agentauth's folders, the audit log wherever it is, the passphrase file and the serve socket", () => {
    const protect = planSandbox(input()).protect.map((entry) => entry.path);
    expect(protect).toEqual(expect.arrayContaining(['/home/u/aa', '/home/u/aa/cache', '/var/log/agentauth/audit.jsonl', '/var/log/agentauth/audit.jsonl.state', '/secure/pass', '/run/agentauth.sock', '/run/user/1000/agentauth']));
  });

  it('--passphrase-file wins over AGENTAUTH_PASSPHRASE_FILE, as when reading it', () => {
    const protect = planSandbox(input({ passphraseFile: 'rel/pass' })).protect.map((entry) => entry.path);
    expect(protect).toContain('/home/u/project/rel/pass');
    expect(protect).not.toContain('/secure/pass');
  });

  it('hides the session bus, the keyrings, the systemd user manager and tmux/screen servers', () => {
    const protect = planSandbox(input()).protect;
    const paths = protect.map((entry) => entry.path);
    expect(paths).toEqual(
      expect.arrayContaining(['/tmp/dbus-abc', '/run/user/1000/bus', '/run/user/1000/keyring', '/run/user/1000/systemd', '/home/u/.local/share/keyrings', '/home/u/.local/share/kwalletd', '/tmp/tmux-1000', '/run/screen/S-u']),
    );
    // A multiplexer's folder becomes the child's own (it may start its own server there).
    expect(protect.find((entry) => entry.path === '/tmp/tmux-1000')?.private).toBe(true);
    expect(protect.find((entry) => entry.path === '/home/u/aa')?.private).toBeUndefined();
  });

  it('replaces $XDG_RUNTIME_DIR, keeping the SSH agent, gpg-agent and the Wayland socket', () => {
    expect(planSandbox(input()).runtimeDir).toEqual({ path: '/run/user/1000', keep: ['/run/user/1000/gnupg', '/run/user/1000/gcr/ssh', '/run/user/1000/wayland-0'] });
    // An SSH agent elsewhere (ssh-agent's /tmp socket) needs no keeping: /tmp stays.
    expect(planSandbox(input({ env: { ...env, SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1' } })).runtimeDir?.keep).not.toContain('/tmp/ssh-x/agent.1');
  });

  it('hides bus sockets found in /tmp, and the standard runtime folder when XDG_RUNTIME_DIR is unset or elsewhere', () => {
    const { XDG_RUNTIME_DIR: _unset, ...noRuntime } = env;
    const plan = planSandbox(input({ env: noRuntime, busSockets: ['/tmp/dbus-Q1w2E3r4T5'] }));
    expect(plan.protect.map((entry) => entry.path)).toEqual(expect.arrayContaining(['/tmp/dbus-Q1w2E3r4T5', '/run/user/1000/bus', '/run/user/1000/systemd']));
    expect(plan.runtimeDir?.path).toBe('/run/user/1000');
    const elsewhere = planSandbox(input({ env: { ...env, XDG_RUNTIME_DIR: '/custom/run' } })).protect.map((entry) => entry.path);
    expect(elsewhere).toEqual(expect.arrayContaining(['/custom/run/bus', '/run/user/1000/bus', '/run/user/1000/keyring']));
  });

  it('reports a bus that only a network namespace could hide', () => {
    const plan = planSandbox(input({ env: { ...env, DBUS_SESSION_BUS_ADDRESS: 'unix:abstract=/tmp/dbus-q,guid=2' } }));
    expect(plan.gaps).toEqual([expect.stringContaining('unix:abstract=/tmp/dbus-q')]);
  });

  it("expands the user's paths: ~ against HOME, relative against the working directory", () => {
    const plan = planSandbox(input({ hide: ['~/.ssh', 'secrets'], readOnly: ['/etc/hosts', '~'] }));
    expect(plan.hide).toEqual(['/home/u/.ssh', '/home/u/project/secrets']);
    expect(plan.readOnly).toEqual(['/etc/hosts', '/home/u']);
  });

  it('macOS: the login keychain, no runtime folder', () => {
    const plan = planSandbox(input({ platform: 'darwin', env: { HOME: '/Users/u' } }));
    expect(plan.protect.map((entry) => entry.path)).toContain('/Users/u/Library/Keychains');
    expect(plan.runtimeDir).toBeNull();
    expect(plan.protect.map((entry) => entry.path)).not.toContain('/tmp/tmux-1000');
  });
});

describe('expandPath', () => {
  it('leaves ~user and ~ inside a name alone', () => {
    expect(expandPath('~other/x', '/h', '/c')).toBe('/c/~other/x');
    expect(expandPath('a~/b', '/h', '/c')).toBe('/c/a~/b');
    expect(expandPath('~', '/h', '/c')).toBe('/h');
  });
});
