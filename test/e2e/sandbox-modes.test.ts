// Sandbox modes: required (--sandbox / run.sandbox required), auto (the
// default), off; what happens where bwrap is missing; what doctor and status
// say; and the sandbox for a user who is not root.
import { execa } from 'execa';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeInitialisedHome, PASSPHRASE, runAgentauth, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { bwrapMissing, eventsOf, shellQuote } from '../helpers/sandbox.js';

const noBwrap = await bwrapMissing('sandbox mode tests');

let t: TempHome;
/** A PATH with sh, touch and true, but no bwrap. */
let noBwrapPath: string;
beforeAll(async () => {
  t = await makeInitialisedHome();
  expect((await t.run(['agent', 'add', 'coder', '--scope', 'demo:read'])).code).toBe(0);
  noBwrapPath = join(t.dir, 'bin');
  mkdirSync(noBwrapPath);
  for (const tool of ['sh', 'touch', 'true']) symlinkSync(['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find((path) => existsSync(path))!, join(noBwrapPath, tool));
});
afterAll(() => t?.cleanup());

const marker = () => join(t.dir, `ran-${Math.random().toString(36).slice(2)}`);
const run = (args: string[], env: Record<string, string | undefined> = {}) => t.run(['run', '--agent', 'coder', ...args], { env });
const lastStart = () => eventsOf(join(t.home, 'audit.jsonl'), 'run.start').at(-1);

describe('where bwrap is missing', () => {
  it('--sandbox exits 125 with the fix, and the command never runs', async () => {
    const file = marker();
    const starts = eventsOf(join(t.home, 'audit.jsonl'), 'run.start').length;
    const r = await run(['--sandbox', '--', 'touch', file], { PATH: noBwrapPath });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('error: the child cannot be sandboxed: bubblewrap (bwrap) is not installed');
    expect(r.stderr).toContain('apt install bubblewrap');
    expect(r.stdout).toBe('');
    expect(existsSync(file)).toBe(false);
    expect(eventsOf(join(t.home, 'audit.jsonl'), 'run.start')).toHaveLength(starts);
  });

  it('the default mode says so in one line on stderr, with the fix, and runs the command', async () => {
    const file = marker();
    const r = await run(['--', 'touch', file], { PATH: noBwrapPath });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warning: the child is not sandboxed: bubblewrap \(bwrap\) is not installed; fix: sudo apt install bubblewrap/);
    expect(lastStart()).toMatchObject({ sandbox: 'none', sandbox_reason: 'bubblewrap (bwrap) is not installed' });
  });

  it('--no-sandbox says nothing', async () => {
    const r = await run(['--no-sandbox', '--', 'touch', marker()], { PATH: noBwrapPath });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('status and doctor say the sandbox is not available, and how to fix it', async () => {
    const status = await runAgentauth(['status', '--json'], { ...t.env, PATH: noBwrapPath });
    expect(JSON.parse(status.stdout).sandbox).toMatchObject({ available: false, reason: 'bubblewrap (bwrap) is not installed', fix: expect.stringContaining('apt install bubblewrap') });
    const doctor = await runAgentauth(['doctor'], { ...t.env, PATH: noBwrapPath });
    expect(doctor.stdout).toMatch(/^FAIL sandbox: not available: bubblewrap \(bwrap\) is not installed \(mode auto\)\n\s+fix: .*apt install bubblewrap/m);
  });
});

describe('the mode from the config, and flags over it', () => {
  it('run.sandbox required refuses without bwrap; off runs without a word; the flags win over both', async () => {
    try {
      expect((await t.run(['config', 'set', 'run.sandbox', 'required'])).code).toBe(0);
      expect((await run(['--', 'true'], { PATH: noBwrapPath })).code).toBe(125);
      const flagOff = await run(['--no-sandbox', '--', 'true'], { PATH: noBwrapPath });
      expect(flagOff.code, flagOff.stderr).toBe(0);
      expect((await t.run(['config', 'set', 'run.sandbox', 'off'])).code).toBe(0);
      const off = await run(['--', 'true'], { PATH: noBwrapPath });
      expect(off.code).toBe(0);
      expect(off.stderr).toBe('');
      expect(lastStart()).toMatchObject({ sandbox: 'none', sandbox_reason: 'turned off (config run.sandbox off)' });
      expect((await run(['--sandbox', '--', 'true'], { PATH: noBwrapPath })).code).toBe(125);
    } finally {
      await t.run(['config', 'unset', 'run.sandbox']);
    }
  });

  it('config set/get/list/unset are typed and recorded in the audit log', async () => {
    const bad = await t.run(['config', 'set', 'run.sandbox', 'sometimes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('run.sandbox takes one of: required, auto, off');
    const relative = await t.run(['config', 'set', 'run.sandbox-hide', '.ssh']);
    expect(relative.code).toBe(2);
    expect(relative.stderr).toContain('neither absolute nor under ~/');
    expect((await t.run(['config', 'set', 'run.sandbox-hide', '~/.ssh', '~/.aws'])).code).toBe(0);
    expect((await t.run(['config', 'get', 'run.sandbox-hide'])).stdout).toBe('~/.ssh\n~/.aws\n');
    const list = JSON.parse((await t.run(['config', 'list', '--json'])).stdout) as { settings: { key: string; value: unknown; set: boolean }[] };
    expect(list.settings.map((s) => [s.key, s.value, s.set])).toEqual([
      // config.json's own issuer field is listed first (serve's work: `config set issuer URL`).
      ['issuer', 'https://issuer.test', true],
      ['run.sandbox', 'auto', false],
      ['run.sandbox-hide', ['~/.ssh', '~/.aws'], true],
      ['run.sandbox-ro', [], false],
      ['audit.rotate-bytes', '64M', false],
    ]);
    expect((await t.run(['config', 'unset', 'run.sandbox-hide'])).code).toBe(0);
    expect((await t.run(['config', 'get', 'run.sandbox-hide'])).stdout).toBe('');
    const kinds = readFileSync(join(t.home, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { kind: string; data: Record<string, unknown> });
    expect(kinds.filter((e) => e.kind.startsWith('config.')).slice(-2)).toEqual([
      expect.objectContaining({ kind: 'config.set', data: { key: 'run.sandbox-hide', value: ['~/.ssh', '~/.aws'] } }),
      expect.objectContaining({ kind: 'config.unset', data: { key: 'run.sandbox-hide' } }),
    ]);
  });

  it('a hand-edited config with a bad sandbox setting stops run (125) instead of weakening the sandbox', async () => {
    const file = join(t.home, 'config.json');
    const original = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, JSON.stringify({ ...JSON.parse(original), settings: { 'run.sandbox': 'of' } }), { mode: 0o600 });
      const r = await run(['--', 'touch', marker()]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('invalid setting "run.sandbox": "of"');
    } finally {
      writeFileSync(file, original, { mode: 0o600 });
    }
  });
});

describe.skipIf(noBwrap)('where bwrap works', () => {
  it('status --json and doctor say it works', async () => {
    const status = JSON.parse((await t.run(['status', '--json'])).stdout);
    expect(status.sandbox).toMatchObject({ available: true, kind: 'bwrap', mode: 'auto', gaps: [] });
    expect((await t.run(['doctor'])).stdout).toMatch(/^ok {3}sandbox: bubblewrap \S+ works/m);
  });

  it('a session bus on an abstract socket: auto warns, required refuses (125)', async () => {
    const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:abstract=/tmp/dbus-test-abstract,guid=1' };
    const auto = await run(['--', 'true'], env);
    expect(auto.code).toBe(0);
    expect(auto.stderr).toContain('warning: the sandbox is incomplete: the D-Bus session bus listens on unix:abstract=/tmp/dbus-test-abstract');
    const required = await run(['--sandbox', '--', 'true'], env);
    expect(required.code).toBe(125);
    expect(required.stderr).toContain('hint: make the session bus listen on a socket file');
  });

  it('refuses to start in a folder the sandbox hides', async () => {
    const r = await execa(process.execPath, [BIN, 'run', '--agent', 'coder', '--', 'true'], { cwd: t.home, env: t.env, extendEnv: false, reject: false });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('which the sandbox hides');
  });

  it('works for a user who is not root, and hides the keystore from that user too', async (ctx) => {
    const setpriv = await execa('setpriv', ['--version'], { reject: false });
    skipWithout(ctx, setpriv.exitCode === 0 && process.getuid?.() === 0 ? null : 'root and setpriv (util-linux), to run as another user');
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
    const reachable = await execa(nobody[0]!, [...nobody.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`], { reject: false });
    if (reachable.exitCode !== 0) {
      // Not a missing tool but where this checkout lives (e.g. under /root): skipped even in CI, saying why.
      console.warn(`skipped: node and ${BIN} are not readable by uid 65534`);
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'agentauth-nobody-'));
    try {
      chmodSync(dir, 0o755);
      const home = join(dir, 'home');
      mkdirSync(home);
      writeFileSync(join(home, 'pass'), `${PASSPHRASE}\n`, { mode: 0o600 });
      chownSync(home, 65534, 65534);
      chownSync(join(home, 'pass'), 65534, 65534);
      const env = { PATH: process.env['PATH']!, HOME: home, LANG: 'C.UTF-8', USER: 'nobody', AGENTAUTH_HOME: join(home, 'aa'), AGENTAUTH_PASSPHRASE_FILE: join(home, 'pass') };
      const as = (args: string[]) => execa(nobody[0]!, [...nobody.slice(1), process.execPath, BIN, ...args], { env, extendEnv: false, reject: false, cwd: home, stdin: 'ignore' });
      expect((await as(['init', '--backend', 'file'])).exitCode).toBe(0);
      expect((await as(['agent', 'add', 'coder', '--scope', 'a:b'])).exitCode).toBe(0);
      const script = `id -u; cat ${shellQuote(join(home, 'aa', 'keystore.jwe'))} ${shellQuote(join(home, 'pass'))}; echo "status=$?"`;
      const inside = await as(['run', '--sandbox', '--', 'sh', '-c', script]);
      expect(inside.exitCode, inside.stderr).toBe(0);
      expect(inside.stdout).toMatch(/^65534\n/);
      expect(inside.stdout).not.toContain(PASSPHRASE);
      expect(inside.stdout).not.toContain('eyJ');
      expect(inside.stdout).toMatch(/status=[1-9]/);
      const outside = await as(['run', '--no-sandbox', '--', 'sh', '-c', script]);
      expect(outside.stdout).toContain(PASSPHRASE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
