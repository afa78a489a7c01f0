// The interactive path, in a real terminal (tmux): init offers the file
// backend when no keychain answers and asks for the passphrase twice, hidden.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, makeTempHome, PASSPHRASE } from '../helpers/cli.js';
import { skipSuiteWithout } from '../helpers/prerequisites.js';
import { attachPane } from '../helpers/tmux.js';

const noTmux = skipSuiteWithout('tty tests', (await execa('tmux', ['-V'], { reject: false })).exitCode === 0 ? null : 'tmux (apt-get install tmux)');

const t = makeTempHome({ DBUS_SESSION_BUS_ADDRESS: undefined });
const session = `agentauth-tty-${process.pid}`;
afterAll(async () => {
  await execa('tmux', ['kill-session', '-t', session], { reject: false });
  t.cleanup();
});

const { waitFor, keys } = attachPane(session);

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
