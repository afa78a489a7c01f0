// init, status, doctor and the keystore's file backend, through the built CLI.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInitialisedHome, makeTempHome, PASSPHRASE, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';

const homes: TempHome[] = [];
function track<T extends TempHome>(home: T): T {
  homes.push(home);
  return home;
}
afterEach(() => {
  while (homes.length) homes.pop()!.cleanup();
});

const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('init on the file backend', () => {
  it('takes the passphrase from --passphrase-file and writes private files', async () => {
    const t = track(makeTempHome());
    const r = await t.run(['init', '--backend', 'file', '--passphrase-file', t.passphraseFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Initialised agentauth (file backend)');
    expect(r.stderr).toBe('');
    for (const file of ['config.json', 'keystore.jwe', 'audit.jsonl']) expect(modeOf(join(t.home, file)), file).toBe('600');
    expect(modeOf(t.home)).toBe('700');
    // The keystore is a JWE with PBES2 key wrapping and no private key in the clear.
    const jwe = readFileSync(join(t.home, 'keystore.jwe'), 'utf8').trim();
    const header = JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString());
    expect(header).toMatchObject({ alg: 'PBES2-HS512+A256KW', enc: 'A256GCM', p2c: 210_000 });
    expect(jwe.split('.')).toHaveLength(5);
    const config = JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8'));
    expect(config.backend).toBe('file');
    expect(JSON.stringify(config)).not.toMatch(/"d":/);
  });

  it('takes the passphrase from AGENTAUTH_PASSPHRASE and from stdin, with --json', async () => {
    const a = track(makeTempHome({ AGENTAUTH_PASSPHRASE: PASSPHRASE }));
    const ra = await a.run(['init', '--backend', 'file', '--json']);
    expect(ra.code, ra.stderr).toBe(0);
    const doc = JSON.parse(ra.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, backend: 'file', issuer: expect.stringMatching(/^urn:agentauth:/) });
    expect(doc.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const b = track(makeTempHome());
    const rb = await b.run(['init', '--backend', 'file', '--passphrase-stdin'], { input: `${PASSPHRASE}\n` });
    expect(rb.code, rb.stderr).toBe(0);
    // The same passphrase, from a file this time, unlocks what stdin created.
    await b.run(['agent', 'add', 'bot', '--scope', 'x:y']);
    const mint = await b.run(['token', 'mint', 'bot', '--aud', 'a', '--passphrase-file', b.passphraseFile]);
    expect(mint.code, mint.stderr).toBe(0);
  });

  it('falls back to the file backend off a terminal when no keychain answers, saying so in one line', async () => {
    const t = track(makeTempHome({ AGENTAUTH_PASSPHRASE: PASSPHRASE }));
    const r = await t.run(['init']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/No OS keychain answered/);
    expect(r.stderr).toMatch(/Using the encrypted file backend/);
    expect(JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8')).backend).toBe('file');
  });

  it('fails at once, naming the flags, when a passphrase is needed and there is no terminal', async () => {
    const t = track(makeTempHome());
    const r = await t.run(['init', '--backend', 'file']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--passphrase-file/);
    expect(r.stderr).toMatch(/AGENTAUTH_PASSPHRASE_FILE/);
    expect(existsSync(join(t.home, 'config.json'))).toBe(false);
    expect(existsSync(join(t.home, 'keystore.jwe'))).toBe(false);
  });

  it('refuses --backend keychain when no keychain answers, and changes nothing', async () => {
    const t = track(makeTempHome({ AGENTAUTH_PASSPHRASE: PASSPHRASE, DBUS_SESSION_BUS_ADDRESS: undefined }));
    const r = await t.run(['init', '--backend', 'keychain']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/keychain does not answer/);
    expect(r.stderr).toMatch(/hint: .*--backend file/);
    expect(existsSync(join(t.home, 'config.json'))).toBe(false);
  });

  it('never initialises twice', async () => {
    const t = track(await makeInitialisedHome());
    const before = snapshotDir(t.home);
    const r = await t.run(['init', '--backend', 'file']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already initialised/);
    expect(snapshotDir(t.home)).toEqual(before);
  });

  it('uses the XDG folders when AGENTAUTH_HOME is unset', async () => {
    const t = track(makeTempHome({ AGENTAUTH_HOME: undefined, AGENTAUTH_PASSPHRASE: PASSPHRASE }));
    const env = { XDG_CONFIG_HOME: join(t.dir, 'cfg'), XDG_DATA_HOME: join(t.dir, 'data'), XDG_STATE_HOME: join(t.dir, 'state') };
    const r = await t.run(['init', '--backend', 'file'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(t.dir, 'cfg/agentauth/config.json'))).toBe(true);
    expect(existsSync(join(t.dir, 'data/agentauth/keystore.jwe'))).toBe(true);
    expect(existsSync(join(t.dir, 'state/agentauth/audit.jsonl'))).toBe(true);
    expect(modeOf(join(t.dir, 'cfg/agentauth'))).toBe('700');
  });
});

describe('refusals that leave everything as it was', () => {
  it('a wrong passphrase exits 4 and writes nothing', async () => {
    const t = track(await makeInitialisedHome());
    await t.run(['agent', 'add', 'bot', '--scope', 'x:y']);
    const before = snapshotDir(t.home);
    const r = await t.run(['token', 'mint', 'bot', '--aud', 'a'], { env: { AGENTAUTH_PASSPHRASE_FILE: undefined, AGENTAUTH_PASSPHRASE: 'wrong' } });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(snapshotDir(t.home)).toEqual(before);
  });

  it('a world-readable keystore is refused with the chmod that fixes it', async () => {
    const t = track(await makeInitialisedHome());
    await t.run(['agent', 'add', 'bot', '--scope', 'x:y']);
    const keystore = join(t.home, 'keystore.jwe');
    chmodSync(keystore, 0o644);
    const before = snapshotDir(t.home);
    const r = await t.run(['token', 'mint', 'bot', '--aud', 'a']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`chmod 600 '${keystore}'`);
    expect(snapshotDir(t.home)).toEqual(before);
    chmodSync(keystore, 0o600);
    expect((await t.run(['token', 'mint', 'bot', '--aud', 'a'])).code).toBe(0);
  });

  it('a corrupt config.json gives a clear message and no stack trace', async () => {
    const t = track(await makeInitialisedHome());
    writeFileSync(join(t.home, 'config.json'), '{"schemaVersion":1, "issuer": ', { mode: 0o600 });
    const before = snapshotDir(t.home);
    for (const args of [['agent', 'list'], ['token', 'mint', 'bot', '--aud', 'a'], ['status']]) {
      const r = await t.run(args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr).toMatch(/config\.json is damaged: it is not valid JSON/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(snapshotDir(t.home)).toEqual(before);
  });

  it('commands before init exit 3 and say to run init', async () => {
    const t = track(makeTempHome());
    const r = await t.run(['token', 'mint', 'bot', '--aud', 'a']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/not initialised/);
    expect(r.stderr).toMatch(/agentauth init/);
  });
});

describe('status and doctor', () => {
  it('status reports backend, persistence, key, counts and file modes', async () => {
    const t = track(await makeInitialisedHome());
    await t.run(['agent', 'add', 'bot', '--scope', 'x:y']);
    const r = await t.run(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: 1, backend: 'file', agents: 1, keys: 1, issuer: 'https://issuer.test' });
    expect(doc.files.every((file: { ok: boolean }) => file.ok)).toBe(true);
    chmodSync(join(t.home, 'config.json'), 0o640);
    const loose = await t.run(['status']);
    expect(loose.code).toBe(4);
    expect(loose.stderr).toContain(`chmod 600`);
  });

  it('doctor explains why the keychain is not usable, with the fix (before init: information, not a failure)', async () => {
    const t = track(makeTempHome({ DBUS_SESSION_BUS_ADDRESS: undefined }));
    const r = await t.run(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/info keychain: .*D-Bus/);
    expect(r.stdout).toMatch(/info backend: not initialised yet; init would use an encrypted file/);
    expect(r.stdout).toMatch(/fix: .*file backend/);
    const json = await t.run(['doctor', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ schemaVersion: 1, keychainUsable: false });
  });
});
