// Passphrases at a real terminal (tmux): with stdin carrying a secret's value
// the prompt goes to the controlling terminal, as ssh and gpg do; a wrong
// passphrase gets three tries. Off a terminal, the error names the flags that
// work (issue 13, items 2 and 5).
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeInitialisedHome, PASSPHRASE, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';
import { skipSuiteWithout } from '../helpers/prerequisites.js';
import { attachPane } from '../helpers/tmux.js';

const noTmux = skipSuiteWithout('tty passphrase tests', (await execa('tmux', ['-V'], { reject: false })).exitCode === 0 ? null : 'tmux (apt-get install tmux)');
const VALUE = 'sk-from-a-pipe-0123456789';
const session = `agentauth-ttypass-${process.pid}`;
let t: TempHome;
let env: Record<string, string>;

beforeAll(async () => {
  t = await makeInitialisedHome({ DBUS_SESSION_BUS_ADDRESS: undefined });
  env = { ...t.env };
  delete env['AGENTAUTH_PASSPHRASE_FILE'];
  await execa('tmux', ['new-session', '-d', '-s', session, '-x', '150', '-y', '40', 'sh'], { env: { TERM: 'xterm-256color', PATH: process.env['PATH'] ?? '' } });
});
afterAll(async () => {
  await execa('tmux', ['kill-session', '-t', session], { reject: false });
  t?.cleanup();
});

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
const { keys, waitFor } = attachPane(session, 100);
/** Types a command line into the pane's shell, with a clean environment, and a marker with its exit code. */
async function typeCommand(line: string, marker: string): Promise<void> {
  await keys('clear', 'Enter');
  const envArgs = Object.entries({ ...env, TERM: 'xterm-256color' }).map(([k, v]) => quote(`${k}=${v}`));
  await keys('-l', `${line.replace('AGENTAUTH', `env -i ${envArgs.join(' ')} ${quote(process.execPath)} ${quote(BIN)}`)}; echo ${marker}=$?`);
  await keys('Enter');
}

describe.skipIf(noTmux)('passphrase prompts at a terminal', () => {
  it('printf %s "$KEY" | agentauth secret add …: the passphrase is asked on the terminal, the value comes from the pipe', async () => {
    // The value comes from a file through the pipe, so it is never on the screen at all.
    const valueFile = join(t.dir, 'value');
    writeFileSync(valueFile, VALUE, { mode: 0o600 });
    await typeCommand(`cat ${quote(valueFile)} | AGENTAUTH secret add piped --host api.example.com --header x-api-key`, 'ADDED');
    await waitFor(/Keystore passphrase/);
    await keys('-l', PASSPHRASE);
    await keys('Enter');
    const final = await waitFor(/ADDED=\d+/);
    expect(final).toMatch(/ADDED=0/);
    expect(final).toMatch(/Added secret piped/);
    expect(final).not.toContain(PASSPHRASE);
    expect(final).not.toContain(VALUE);
    const config = JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8'));
    expect(config.secrets.piped).toBeDefined();
    expect(readFileSync(join(t.home, 'vault.json'), 'utf8')).not.toContain(VALUE);
  });

  it('a wrong passphrase gets another try, up to three', async () => {
    await typeCommand('AGENTAUTH key rotate', 'ROTATED');
    await waitFor(/Keystore passphrase/);
    await keys('-l', 'wrong passphrase one');
    await keys('Enter');
    await waitFor(/Wrong passphrase\. Keystore passphrase \(1 more try after this one\)/);
    await keys('-l', PASSPHRASE);
    await keys('Enter');
    const ok = await waitFor(/ROTATED=\d+/);
    expect(ok).toMatch(/ROTATED=0/);
    expect(ok).toMatch(/New active key/);

    const before = snapshotDir(t.home);
    await typeCommand('AGENTAUTH key rotate', 'REFUSED');
    for (const [i, prompt] of [/Keystore passphrase/, /1 more try after this one/, /last try/].entries()) {
      await waitFor(prompt);
      await keys('-l', `wrong passphrase ${i}`);
      await keys('Enter');
    }
    const refused = await waitFor(/REFUSED=\d+/);
    expect(refused).toMatch(/REFUSED=4/);
    expect(refused).toMatch(/wrong passphrase for/);
    expect(snapshotDir(t.home)).toEqual(before);
  });
});

describe('without a terminal', () => {
  it('a piped secret with no passphrase source fails at once, naming the flags that work (not --passphrase-stdin)', async () => {
    const before = snapshotDir(t.home);
    // detached: a new session with no controlling terminal, as under cron or systemd.
    const r = await execa(process.execPath, [BIN, 'secret', 'add', 'cron', '--host', 'api.example.com', '--header', 'A'], { env, extendEnv: false, input: VALUE, detached: true, reject: false, timeout: 20_000 });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/no terminal to ask on/);
    expect(r.stderr).toMatch(/--passphrase-file FILE, or set AGENTAUTH_PASSPHRASE_FILE or AGENTAUTH_PASSPHRASE/);
    expect(r.stderr).not.toMatch(/--passphrase-stdin/);
    expect(r.stderr + r.stdout).not.toContain(VALUE);
    expect(snapshotDir(t.home)).toEqual(before);
  });
});
