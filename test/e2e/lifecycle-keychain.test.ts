// The lifecycle against a real Secret Service (gnome-keyring, .ci/with-keyring.sh):
// a keychain install backed up and restored onto a file install (a laptop's
// agentauth moved to a headless Pi), migrate both ways, reset, and a keychain
// entry deleted behind agentauth's back.
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, writeTempFile, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';
import { findSecretServiceGap } from '../helpers/secret-service.js';
import { startUpstream, type Upstream } from '../fixtures/gateway/upstream.js';

const skipReason = await findSecretServiceGap('keychain lifecycle tests');

const REAL_KEY = 'sk-live-MOVED-0123456789abcdef';
const BACKUP_PASSPHRASE = 'backup passphrase for the move';
const bus = () => ({ DBUS_SESSION_BUS_ADDRESS: process.env['DBUS_SESSION_BUS_ADDRESS'] });
const homes: TempHome[] = [];
afterAll(() => homes.forEach((home) => home.cleanup()));

/** The agentauth entries of one install in the Secret Service, by name. */
async function keychainEntries(installId: string): Promise<string[]> {
  const r = await execa('secret-tool', ['search', '--all', 'service', 'agentauth'], { reject: false });
  return [...`${r.stdout}\n${r.stderr}`.matchAll(/attribute\.username = (\S+)/g)].map((m) => m[1]!).filter((name) => name.startsWith(`${installId}/`)).map((name) => name.slice(installId.length + 1)).sort();
}

async function keychainHome(): Promise<{ home: TempHome; installId: string }> {
  const home = makeTempHome();
  homes.push(home);
  Object.assign(home.env, bus());
  const r = await home.run(['init', '--backend', 'keychain', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { home, installId: JSON.parse(r.stdout).installId };
}

const readConfig = (home: TempHome) => JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8'));

describe.skipIf(skipReason !== null)('backup on a keychain install, restore on a file install', () => {
  let laptop: TempHome;
  let installId: string;
  let upstream: Upstream;
  let token: string;
  let backup: string;
  let pi: TempHome;

  beforeAll(async () => {
    ({ home: laptop, installId } = await keychainHome());
    upstream = await startUpstream({ dir: laptop.dir, realKey: REAL_KEY });
    const must = async (args: string[], input?: string) => {
      const r = await laptop.run(args, input === undefined ? {} : { input });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r;
    };
    await must(['agent', 'add', 'coder', '--scope', 'demo:read', '--aud', 'git.lan']);
    await must(['secret', 'add', 'up', '--host', upstream.authority, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'UP_KEY'], REAL_KEY);
    await must(['grant', 'coder', 'up']);
    token = (await must(['token', 'mint', 'coder'])).stdout.trim();
    // A run issues the gateway CA and a leaf for the upstream: both go into the backup.
    await must(['run', '--agent', 'coder', '--upstream-ca', upstream.caFile, '--', 'sh', '-c', `curl -sS -o /dev/null "https://${upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`]);
    expect(await keychainEntries(installId)).toEqual(expect.arrayContaining(['ca-key', `ca-leaf/${upstream.host}`, 'log-key', 'vault-key']));
    const passFile = writeTempFile(laptop.dir, 'backup-pass', BACKUP_PASSPHRASE);
    backup = join(laptop.dir, 'laptop.backup');
    await must(['backup', '--out', backup, '--backup-passphrase-file', passFile]);

    // The Pi: no session bus, the file backend, the log copied along with the backup.
    pi = makeTempHome({ DBUS_SESSION_BUS_ADDRESS: undefined });
    homes.push(pi);
    pi.env['AGENTAUTH_PASSPHRASE_FILE'] = pi.passphraseFile;
    mkdirSync(pi.home, { mode: 0o700 });
    copyFileSync(join(laptop.home, 'audit.jsonl'), join(pi.home, 'audit.jsonl'));
    const restore = await pi.run(['restore', backup, '--backend', 'file', '--backup-passphrase-file', passFile, '--json']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ backend: 'file', fromBackend: 'keychain', installId, auditLog: { continued: true } });
  });
  afterAll(async () => {
    await upstream?.close();
  });

  it('keeps the kid, and tokens minted on the laptop verify on the Pi', async () => {
    expect(readConfig(pi).keys[0].kid).toBe(readConfig(laptop).keys[0].kid);
    expect(readConfig(pi).backend).toBe('file');
    const verify = await pi.run(['token', 'verify', token, '--aud', 'git.lan']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(existsSync(join(pi.home, 'keystore.jwe'))).toBe(true);
  });

  it('run still decrypts the secret: a child curls the upstream through the gateway', async () => {
    const r = await pi.run(['run', '--agent', 'coder', '--upstream-ca', upstream.caFile, '--', 'sh', '-c', `curl -sS -w '\\n%{http_code}' "https://${upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('200');
    expect(r.stdout).not.toContain(REAL_KEY);
    expect(upstream.seen.at(-1)?.headers['authorization']).toBe(`Bearer ${REAL_KEY}`);
  });

  it('the log continues on the Pi and verifies from the laptop’s first event', async () => {
    const verify = await pi.run(['audit', 'verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
    const events = readFileSync(join(pi.home, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const kinds = events.map((event) => event.kind);
    expect(kinds.filter((kind) => kind === 'log.init')).toHaveLength(1);
    expect(kinds.indexOf('backup.create')).toBeLessThan(kinds.indexOf('backup.restore'));
    expect(kinds.lastIndexOf('run.start')).toBeGreaterThan(kinds.indexOf('backup.restore'));
    expect(readFileSync(join(pi.home, 'audit.jsonl'), 'utf8')).not.toContain(REAL_KEY);
  });

  it('restoring onto the keychain while the install still lives there is refused, its entries untouched', async () => {
    const before = await keychainEntries(installId);
    const other = makeTempHome();
    homes.push(other);
    Object.assign(other.env, bus());
    const r = await other.run(['restore', backup, '--backend', 'keychain'], { env: { AGENTAUTH_BACKUP_PASSPHRASE: BACKUP_PASSPHRASE } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/still installed on this machine/);
    expect(r.stderr).toMatch(/--backend file/);
    expect(await keychainEntries(installId)).toEqual(before);
    expect(existsSync(join(other.home, 'config.json'))).toBe(false);
  });

  it('reset on the laptop removes every keychain entry (the CA leaves too) and every file, keeping the log', async () => {
    const r = await laptop.run(['reset', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await keychainEntries(installId)).toEqual([]);
    const doc = JSON.parse(r.stdout);
    expect(doc.keychainEntries).toEqual(expect.arrayContaining([`ca-leaf/${upstream.host}`, 'ca-key']));
    expect(doc.log).toMatchObject({ action: 'set-aside', checkpoint: true });
    expect(existsSync(join(laptop.home, 'config.json'))).toBe(false);
  });

  it('once reset, the backup restores onto the keychain again', async () => {
    const r = await laptop.run(['restore', backup, '--json'], { env: { AGENTAUTH_BACKUP_PASSPHRASE: BACKUP_PASSPHRASE } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ backend: 'keychain', auditLog: { continued: false } });
    expect(await keychainEntries(installId)).toEqual(expect.arrayContaining(['ca-key', 'log-key', 'vault-key']));
    expect((await laptop.run(['token', 'verify', token, '--aud', 'git.lan'])).code).toBe(0);
    expect((await laptop.run(['audit', 'verify'])).code).toBe(0);
  });
});

describe.skipIf(skipReason !== null)('migrate between the backends', () => {
  it('keychain → file → keychain: every entry moves, the old backend is emptied, tokens keep verifying', async () => {
    const { home, installId } = await keychainHome();
    expect((await home.run(['agent', 'add', 'bot', '--scope', 'a:b'])).code).toBe(0);
    expect((await home.run(['secret', 'add', 's', '--host', 'x.example', '--header', 'A'], { input: REAL_KEY })).code).toBe(0);
    const token = (await home.run(['token', 'mint', 'bot', '--aud', 'x'])).stdout.trim();
    const before = await keychainEntries(installId);
    expect(before).toEqual(expect.arrayContaining(['log-key', 'vault-key']));

    const weak = await home.run(['migrate', '--to', 'file'], { env: { AGENTAUTH_PASSPHRASE: 'short' } });
    expect(weak.code).toBe(2);
    expect(await keychainEntries(installId)).toEqual(before);
    expect(existsSync(join(home.home, 'keystore.jwe'))).toBe(false);

    const toFile = await home.run(['migrate', '--to', 'file', '--passphrase-file', home.passphraseFile]);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(await keychainEntries(installId)).toEqual([]);
    expect(readConfig(home).backend).toBe('file');
    const fileEnv = { AGENTAUTH_PASSPHRASE_FILE: home.passphraseFile, DBUS_SESSION_BUS_ADDRESS: undefined };
    expect((await home.run(['token', 'verify', token, '--aud', 'x'], { env: fileEnv })).code).toBe(0);
    expect((await home.run(['token', 'mint', 'bot', '--aud', 'x'], { env: fileEnv })).code).toBe(0);

    const toKeychain = await home.run(['migrate', '--to', 'keychain', '--passphrase-file', home.passphraseFile]);
    expect(toKeychain.code, toKeychain.stderr).toBe(0);
    expect(await keychainEntries(installId)).toEqual(before);
    expect(existsSync(join(home.home, 'keystore.jwe'))).toBe(false);
    expect((await home.run(['token', 'mint', 'bot', '--aud', 'x'])).code).toBe(0);
    const events = readFileSync(join(home.home, 'audit.jsonl'), 'utf8');
    expect(events.match(/"kind":"keystore\.migrate"/g)).toHaveLength(2);
    expect((await home.run(['audit', 'verify'])).code).toBe(0);
  });

  it('to a keychain that does not answer: exit 4, nothing changed', async () => {
    const { home } = await keychainHome();
    const migrated = await home.run(['migrate', '--to', 'file', '--passphrase-file', home.passphraseFile]);
    expect(migrated.code).toBe(0);
    const before = snapshotDir(home.home);
    const r = await home.run(['migrate', '--to', 'keychain', '--passphrase-file', home.passphraseFile], { env: { DBUS_SESSION_BUS_ADDRESS: undefined } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/keychain does not answer/);
    expect(snapshotDir(home.home)).toEqual(before);
  });
});

describe.skipIf(skipReason !== null)('a keychain entry deleted behind agentauth’s back', () => {
  it('status and doctor name it (exit 4) and point to key rotate or restore; key rotate mends it', async () => {
    const { home, installId } = await keychainHome();
    const kid = readConfig(home).keys[0].kid;
    const healthy = await home.run(['status']);
    expect(healthy.code, healthy.stderr + healthy.stdout).toBe(0);
    expect(healthy.stdout).toMatch(/1 key\b/);
    await execa('secret-tool', ['clear', 'service', 'agentauth', 'username', `${installId}/issuer/${kid}`]);

    const status = await home.run(['status']);
    expect(status.code).toBe(4);
    expect(status.stdout).toContain(`no longer holds "issuer/${kid}"`);
    expect(status.stdout).toMatch(/agentauth key rotate/);
    expect(status.stdout).toMatch(/agentauth restore FILE/);
    const json = JSON.parse((await home.run(['status', '--json'])).stdout);
    expect(json.keystore).toMatchObject({ ok: false, missing: [`issuer/${kid}`] });

    const doctor = await home.run(['doctor']);
    expect(doctor.code).toBe(4);
    expect(doctor.stdout).toMatch(new RegExp(`FAIL keys: .*"issuer/${kid}"`));
    expect(doctor.stdout).toMatch(/fix: make a new signing key with agentauth key rotate/);

    expect((await home.run(['agent', 'add', 'bot', '--scope', 'a:b'])).code).toBe(0);
    const mint = await home.run(['token', 'mint', 'bot', '--aud', 'y']);
    expect(mint.code).toBe(4);
    expect(mint.stderr).toMatch(/hint: make a new signing key with agentauth key rotate .* or bring it back from a backup: agentauth restore FILE --force/);
    expect((await home.run(['key', 'rotate'])).code).toBe(0);
    expect((await home.run(['status'])).code).toBe(0);
  });

  it('a lost log key points to restore (key rotate cannot bring it back)', async () => {
    const { home, installId } = await keychainHome();
    await execa('secret-tool', ['clear', 'service', 'agentauth', 'username', `${installId}/log-key`]);
    const r = await home.run(['doctor', '--json']);
    expect(r.code).toBe(4);
    const keys = JSON.parse(r.stdout).checks.find((check: { name: string }) => check.name === 'keys');
    expect(keys).toMatchObject({ status: 'fail', ok: false });
    expect(keys.fix).toMatch(/agentauth restore FILE --force/);
    expect(keys.fix).not.toMatch(/key rotate/);
  });
});

describe.skipIf(skipReason !== null)('doctor on a keychain install', () => {
  it('healthy: the bus, the keychain and the keys are ok (human and --json)', async () => {
    const { home } = await keychainHome();
    const r = await home.run(['doctor']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}D-Bus session bus/m);
    expect(r.stdout).toMatch(/^ok {3}keychain: a test entry was written/m);
    expect(r.stdout).toMatch(/^ok {3}keys: the 2 entries the install needs are present/m);
    expect(r.stdout).not.toMatch(/passphrase/);
    const json = JSON.parse((await home.run(['doctor', '--json'])).stdout);
    expect(json).toMatchObject({ schemaVersion: 1, backend: 'keychain', keychainUsable: true, ok: true });
  });

  it('over SSH without a session bus: says how to reach one, exit 4', async () => {
    const { home } = await keychainHome();
    const r = await home.run(['doctor'], { env: { DBUS_SESSION_BUS_ADDRESS: undefined, SSH_CONNECTION: '192.0.2.1 5000 192.0.2.2 22', XDG_RUNTIME_DIR: undefined } });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/FAIL D-Bus session bus: .*SSH login has no session bus/);
    expect(r.stdout).toMatch(/fix: .*dbus-run-session -- bash.*gnome-keyring-daemon --unlock --components=secrets/);
    expect(r.stdout).toMatch(/agentauth migrate --to file/);
  });
});
