// A hostile child of `agentauth run`, as the issue lists it: each attempt is
// made twice with the same script — in the default mode (which sandboxes,
// bwrap being here) and with --no-sandbox — and must fail only in the first.
// The second half proves each attempt would really work without the sandbox,
// so these tests test the sandbox and not a typo in a path.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeInitialisedHome, makeTempHome, PASSPHRASE, type CliResult, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { bwrapMissing, eventsOf, shellQuote } from '../helpers/sandbox.js';

const noBwrap = await bwrapMissing('sandbox tests');

type Mode = 'default' | '--no-sandbox';
const MODES: Mode[] = ['default', '--no-sandbox'];

let t: TempHome;
beforeAll(async () => {
  t = await makeInitialisedHome();
  const must = async (args: string[], input?: string) => {
    const r = await t.run(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  await must(['agent', 'add', 'coder', '--scope', 'demo:read']);
  await must(['secret', 'add', 'up', '--host', 'api.example.com', '--header', 'x-api-key', '--env', 'UP_KEY'], 'sk-real-value-0123456789\n');
  await must(['grant', 'coder', 'up']);
  // The first run creates the gateway CA (a keystore write): done before any file is compared.
  await must(['run', '--agent', 'coder', '--no-sandbox', '--', 'true']);
});
afterAll(() => t?.cleanup());

/** `run -- sh -c SCRIPT` in `mode`; the script prints "ran" first, so a run that never started cannot pass. */
async function attempt(home: TempHome, mode: Mode, script: string, extra: string[] = [], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const flags = mode === 'default' ? [] : [mode];
  const result = await home.run(['run', '--agent', 'coder', ...flags, ...extra, '--', 'sh', '-c', `echo ran; ${script}`], { env });
  expect(result.stdout.startsWith('ran\n'), result.stderr).toBe(true);
  // The default mode really sandboxed (no "not sandboxed" line), and said so in run.start. (Not
  // checked without the sandbox: there the child may have replaced the log under run's feet.)
  if (mode === 'default') {
    expect(result.stderr).not.toMatch(/not sandboxed/);
    expect(eventsOf(home.env['AGENTAUTH_AUDIT_LOG'] ?? join(home.home, 'audit.jsonl'), 'run.start').at(-1)?.['sandbox']).toBe('bwrap');
  }
  return result;
}

describe.skipIf(noBwrap)('a hostile child cannot reach what agentauth keeps', () => {
  for (const file of ['keystore.jwe', 'vault.json', 'config.json']) {
    it(`reading ${file}`, async () => {
      const path = join(t.home, file);
      for (const mode of MODES) {
        const content = readFileSync(path, 'utf8');
        const r = await attempt(t, mode, `cat ${shellQuote(path)}; echo "status=$?"`);
        if (mode === 'default') {
          expect(r.stdout).not.toContain(content.slice(0, 40));
          expect(r.stdout).toMatch(/status=[1-9]/);
        } else {
          expect(r.stdout).toContain(content);
        }
      }
    });
  }

  it('reading the passphrase file, from AGENTAUTH_PASSPHRASE_FILE or --passphrase-file', async () => {
    const other = join(t.dir, 'other-passphrase');
    writeFileSync(other, `${PASSPHRASE}\n`, { mode: 0o600 });
    for (const mode of MODES) {
      const viaEnv = await attempt(t, mode, `cat ${shellQuote(t.passphraseFile)}`);
      const viaFlag = await attempt(t, mode, `cat ${shellQuote(other)}`, ['--passphrase-file', other], { AGENTAUTH_PASSPHRASE_FILE: undefined });
      for (const r of [viaEnv, viaFlag]) {
        if (mode === 'default') expect(r.stdout).not.toContain(PASSPHRASE);
        else expect(r.stdout).toContain(PASSPHRASE);
      }
    }
  });

  it("reading agentauth's environment from /proc, or finding its process at all", async () => {
    // The passphrase in agentauth's environment (run removes it from the child's own).
    const env = { ...t.env, AGENTAUTH_PASSPHRASE: PASSPHRASE, AGENTAUTH_PASSPHRASE_FILE: undefined };
    const script = [
      'echo ran',
      // The pid the test writes once agentauth is running.
      `while [ ! -s ${shellQuote(join(t.dir, 'pid'))} ]; do sleep 0.02; done`,
      `pid=$(cat ${shellQuote(join(t.dir, 'pid'))})`,
      'tr "\\0" "\\n" < /proc/$pid/environ; echo "direct=$?"',
      'for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done 2>/dev/null | grep -c AGENTAUTH_PASSPHRASE=; true',
      // [a]: neither this script's nor grep's own command line matches.
      'grep -l "bin/agent[a]uth.js" /proc/[0-9]*/cmdline 2>/dev/null | wc -l',
    ].join('\n');
    for (const mode of MODES) {
      const pidFile = join(t.dir, 'pid');
      writeFileSync(pidFile, '');
      const child = execa(process.execPath, [BIN, 'run', '--agent', 'coder', ...(mode === 'default' ? [] : [mode]), '--', 'sh', '-c', script], {
        env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });
      writeFileSync(pidFile, String(child.pid));
      const r = await child;
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const [, ...lines] = String(r.stdout).trim().split('\n');
      if (mode === 'default') {
        expect(r.stdout).not.toContain(PASSPHRASE);
        expect(lines.find((line) => line.startsWith('direct='))).toMatch(/^direct=[1-9]/);
        expect(lines.slice(-2)).toEqual(['0', '0']);
      } else {
        expect(r.stdout).toContain(`AGENTAUTH_PASSPHRASE=${PASSPHRASE}`);
        expect(lines).toContain('direct=0');
        expect(Number(lines.at(-1))).toBeGreaterThan(0);
      }
    }
  });

  it('appending to or replacing audit.jsonl, in its folder or moved with AGENTAUTH_AUDIT_LOG', async () => {
    const moved = makeTempHome();
    mkdirSync(join(moved.dir, 'logs'));
    Object.assign(moved.env, { AGENTAUTH_AUDIT_LOG: join(moved.dir, 'logs', 'audit.jsonl'), AGENTAUTH_PASSPHRASE_FILE: moved.passphraseFile });
    try {
      expect((await moved.run(['init', '--backend', 'file'])).code).toBe(0);
      expect((await moved.run(['agent', 'add', 'coder', '--scope', 'demo:read'])).code).toBe(0);
      for (const [home, log] of [[t, join(t.home, 'audit.jsonl')], [moved, moved.env['AGENTAUTH_AUDIT_LOG']!]] as const) {
        for (const [what, script] of [
          ['append', `printf '{"forged":1}\\n' >> ${shellQuote(log)}`],
          ['replace', `printf '{"forged":2}\\n' > ${shellQuote(`${log}.new`)} && mv ${shellQuote(`${log}.new`)} ${shellQuote(log)}`],
        ] as const) {
          for (const mode of MODES) {
            const saved = [log, `${log}.state`].map((file) => [file, readFileSync(file)] as const);
            await attempt(home, mode, script);
            const verify = await home.run(['audit', 'verify']);
            if (mode === 'default') {
              expect(readFileSync(log, 'utf8'), `${what} ${log}`).not.toContain('forged');
              expect(verify.code, verify.stdout + verify.stderr).toBe(0);
            } else {
              expect(readFileSync(log, 'utf8'), `${what} ${log}`).toContain('forged');
              expect(verify.code).not.toBe(0);
              // Start the next attempt from the intact log again.
              for (const [file, bytes] of saved) writeFileSync(file, bytes);
            }
          }
        }
      }
    } finally {
      moved.cleanup();
    }
  });

  it('reading a --sandbox-hide path, or one in run.sandbox-hide; writing a --sandbox-ro path', async () => {
    const dir = join(t.dir, 'private');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'key'), 'user-secret-value');
    const file = join(t.dir, 'settings.txt');
    writeFileSync(file, 'original');
    for (const mode of MODES) {
      const hidden = await attempt(t, mode, `cat ${shellQuote(join(dir, 'key'))}`, ['--sandbox-hide', dir]);
      if (mode === 'default') expect(hidden.stdout).not.toContain('user-secret-value');
      else expect(hidden.stdout).toContain('user-secret-value');
      const readOnly = await attempt(t, mode, `cat ${shellQuote(file)}; echo changed > ${shellQuote(file)}`, ['--sandbox-ro', file]);
      expect(readOnly.stdout).toContain('original');
      expect(readFileSync(file, 'utf8')).toBe(mode === 'default' ? 'original' : 'changed\n');
      writeFileSync(file, 'original');
    }
    expect((await t.run(['config', 'set', 'run.sandbox-hide', dir])).code).toBe(0);
    try {
      const viaConfig = await attempt(t, 'default', `cat ${shellQuote(join(dir, 'key'))}`);
      expect(viaConfig.stdout).not.toContain('user-secret-value');
    } finally {
      expect((await t.run(['config', 'unset', 'run.sandbox-hide'])).code).toBe(0);
    }
  });

  it("the session bus (named or found in /tmp), keyrings and systemd in $XDG_RUNTIME_DIR are gone; gpg-agent's folder stays", async () => {
    const runtime = join(t.dir, 'runtime');
    for (const sub of ['keyring', 'systemd', 'gnupg']) mkdirSync(join(runtime, sub), { recursive: true });
    chmodSync(runtime, 0o700);
    writeFileSync(join(runtime, 'gnupg', 'S.gpg-agent'), 'gpg');
    writeFileSync(join(runtime, 'keyring', 'control'), 'keyring');
    const bus = createServer((socket) => socket.end('bus-answered\n'));
    await new Promise<void>((resolve) => bus.listen(join(runtime, 'bus'), resolve));
    // A bus in /tmp that no variable names (dbus-run-session's kind): found by looking, so hidden too.
    const tmpBusPath = `/tmp/dbus-aatest${randomBytes(4).toString('hex')}`;
    const tmpBus = createServer((socket) => socket.end('tmp-bus-answered\n'));
    await new Promise<void>((resolve) => tmpBus.listen(tmpBusPath, resolve));
    try {
      const env = { XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(runtime, 'bus')}` };
      const connect = (path: string) => `${shellQuote(process.execPath)} -e 'require("net").connect(process.argv[1]).on("data",(d)=>process.stdout.write(d)).on("error",(e)=>console.log("bus:",e.code))' ${shellQuote(path)}`;
      const script = `ls -A ${shellQuote(runtime)} | tr '\\n' ' '; echo; cat ${shellQuote(join(runtime, 'keyring', 'control'))}; echo; ${connect(join(runtime, 'bus'))}; ${connect(tmpBusPath)}`;
      for (const mode of MODES) {
        const r = await attempt(t, mode, script, [], env);
        if (mode === 'default') {
          expect(r.stdout).toContain('ran\ngnupg \n');
          expect(r.stdout).not.toContain('keyring\n');
          expect(r.stdout).not.toContain('bus-answered');
          expect(r.stdout.match(/bus: E[A-Z]+/g)).toHaveLength(2);
        } else {
          expect(r.stdout).toContain('\nbus-answered');
          expect(r.stdout).toContain('tmp-bus-answered');
          expect(r.stdout).toContain('keyring\n');
        }
      }
    } finally {
      bus.close();
      tmpBus.close();
    }
  });

  it("another tmux server's socket (it would run commands outside the sandbox)", async (ctx) => {
    const tmux = await execa('tmux', ['-V'], { reject: false });
    skipWithout(ctx, tmux.exitCode === 0 ? null : 'tmux (apt-get install tmux)');
    const socket = `aa-hostile-${randomBytes(4).toString('hex')}`;
    await execa('tmux', ['-L', socket, '-f', '/dev/null', 'new-session', '-d', '-s', 'outside', 'sleep 60']);
    try {
      for (const mode of MODES) {
        const r = await attempt(t, mode, `tmux -L ${socket} list-sessions 2>&1`);
        if (mode === 'default') expect(r.stdout).not.toMatch(/^outside:/m);
        else expect(r.stdout).toMatch(/^outside:/m);
      }
    } finally {
      await execa('tmux', ['-L', socket, 'kill-server'], { reject: false });
    }
  });

  it('pushing keystrokes into the terminal with TIOCSTI', async (ctx) => {
    const script = await execa('script', ['--version'], { reject: false });
    skipWithout(ctx, script.exitCode === 0 ? null : 'script (util-linux)');
    const legacy = existsSync('/proc/sys/dev/tty/legacy_tiocsti') ? readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim() : '1';
    const py = 'import fcntl, termios\ntry:\n    fcntl.ioctl(0, termios.TIOCSTI, b"#")\n    print("injected")\nexcept OSError as e:\n    print("refused", e.errno)';
    for (const mode of MODES) {
      const command = [process.execPath, BIN, 'run', '--agent', 'coder', ...(mode === 'default' ? [] : [mode]), '--', '/usr/bin/python3', '-c', py].map(shellQuote).join(' ');
      const r = await execa('script', ['-qec', command, '/dev/null'], { env: t.env, extendEnv: false, reject: false, stdin: 'ignore' });
      if (mode === 'default') expect(r.stdout).toContain('refused 1');
      else if (legacy === '1') expect(r.stdout).toContain('injected');
    }
  });

  it('holds no file descriptor of agentauth beyond stdio', async () => {
    const list = 'ls /proc/self/fd | sort -n | tr "\\n" " "';
    const baseline = await execa('sh', ['-c', list], { env: t.env, extendEnv: false, stdin: 'ignore' });
    const r = await attempt(t, 'default', list);
    expect(r.stdout.split('\n')[1]).toBe(baseline.stdout);
  });
});

describe.skipIf(noBwrap)('a hostile child on the keychain backend', () => {
  it('secret-tool lookup gets nothing from the real Secret Service', async (ctx) => {
    skipWithout(ctx, process.env['DBUS_SESSION_BUS_ADDRESS'] ? null : 'a Secret Service (run under dbus-run-session with .ci/with-keyring.sh)');
    const home = makeTempHome({ DBUS_SESSION_BUS_ADDRESS: process.env['DBUS_SESSION_BUS_ADDRESS'] });
    try {
      const init = await home.run(['init', '--backend', 'keychain', '--json']);
      expect(init.code, init.stderr).toBe(0);
      const installId = JSON.parse(init.stdout).installId as string;
      expect((await home.run(['agent', 'add', 'coder', '--scope', 'demo:read'])).code).toBe(0);
      const lookup = `secret-tool lookup service agentauth username ${shellQuote(`${installId}/log-key`)}; echo "status=$?"`;
      for (const mode of MODES) {
        const r = await attempt(home, mode, lookup);
        if (mode === 'default') {
          expect(r.stdout).not.toContain('"d"');
          expect(r.stdout).toMatch(/status=[1-9]/);
        } else {
          // secret-tool prints the stored JSON without a newline.
          expect(r.stdout).toMatch(/"d":"[A-Za-z0-9_-]{43}"/);
        }
      }
    } finally {
      home.cleanup();
    }
  });
});
