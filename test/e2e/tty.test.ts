// The interactive path, in a real terminal (tmux): init offers the file
// backend when no keychain answers and asks for the passphrase twice, hidden.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, makeTempHome, PASSPHRASE } from '../helpers/cli.js';
import { skipSuiteWithout } from '../helpers/prerequisites.js';

const noTmux = skipSuiteWithout('tty tests', (await execa('tmux', ['-V'], { reject: false })).exitCode === 0 ? null : 'tmux (apt-get install tmux)');

const t = makeTempHome({ DBUS_SESSION_BUS_ADDRESS: undefined });
const session = `agentauth-tty-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['kill-session', '-t', session], { reject: false });
  t.cleanup();
});

async function screen(): Promise<string> {
  return (await execa('tmux', ['capture-pane', '-p', '-t', session])).stdout;
}

async function waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await screen();
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}; screen:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const keys = (...k: string[]) => execa('tmux', ['send-keys', '-t', session, ...k]);

describe.skipIf(noTmux)('interactive init in a terminal', () => {
  it('offers the file backend, then reads the passphrase twice without echoing it', async () => {
    const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
    const envArgs = Object.entries({ ...t.env, TERM: 'xterm-256color' }).map(([k, v]) => quote(`${k}=${v}`));
    const command = `env -i ${envArgs.join(' ')} ${quote(process.execPath)} ${quote(BIN)} init; sleep 30`;
    await execa('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', command], { env: { TERM: 'xterm-256color' } });
    await waitFor(/encrypted file .* instead\?/);
    await keys('Enter');
    await waitFor(/New keystore passphrase/);
    await keys('-l', PASSPHRASE);
    await keys('Enter');
    await waitFor(/Repeat the passphrase/);
    await keys('-l', PASSPHRASE);
    await keys('Enter');
    const final = await waitFor(/Initialised agentauth \(file backend\)/);
    expect(final).not.toContain(PASSPHRASE);
    expect(existsSync(join(t.home, 'keystore.jwe'))).toBe(true);
    expect(JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8')).backend).toBe('file');
    // The passphrase typed at the prompt unlocks the keystore.
    await execa(process.execPath, [BIN, 'agent', 'add', 'bot', '--scope', 'a:b'], { env: t.env, extendEnv: false });
    const mint = await execa(process.execPath, [BIN, 'token', 'mint', 'bot', '--aud', 'x'], { env: { ...t.env, AGENTAUTH_PASSPHRASE: PASSPHRASE }, extendEnv: false, reject: false });
    expect(mint.exitCode, mint.stderr).toBe(0);
  });
});
