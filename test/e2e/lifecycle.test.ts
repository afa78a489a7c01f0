// backup, restore, passphrase change and reset on the file backend, through
// the built CLI: what they write, and every bad input refused with nothing
// lost or leaked. (The keychain → file move is in lifecycle-keychain.test.ts.)
import { compactDecrypt } from 'jose';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, makeTempHome, PASSPHRASE, writeTempFile, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';

const BACKUP_PASSPHRASE = 'a different passphrase for backups';
const VALUE = 'sk-lifecycle-VALUE-0123456789';
const homes: TempHome[] = [];
const track = (home: TempHome) => (homes.push(home), home);
afterAll(() => homes.forEach((home) => home.cleanup()));

let source: TempHome;
let backupFile: string;
let backupPassFile: string;
let privateD: string;

beforeAll(async () => {
  source = track(await makeInitialisedHome());
  expect((await source.run(['agent', 'add', 'coder', '--scope', 'repo:read'])).code).toBe(0);
  expect((await source.run(['secret', 'add', 'gh', '--host', 'api.github.com', '--header', 'Authorization'], { input: VALUE })).code).toBe(0);
  backupPassFile = writeTempFile(source.dir, 'backup-pass', `${BACKUP_PASSPHRASE}\n`);
  backupFile = join(source.dir, 'agentauth.backup');
  const r = await source.run(['backup', '--out', backupFile, '--backup-passphrase-file', backupPassFile, '--json']);
  expect(r.code, r.stderr).toBe(0);
  privateD = await readIssuerD(source);
  for (const output of [r.stdout, r.stderr]) {
    expect(output).not.toContain(privateD);
    expect(output).not.toContain(VALUE);
  }
});

/** The issuer key's private scalar, decrypted here with the passphrase, to look for it where it must not be. */
async function readIssuerD(home: TempHome): Promise<string> {
  const { plaintext } = await compactDecrypt(readFileSync(join(home.home, 'keystore.jwe'), 'utf8').trim(), new TextEncoder().encode(PASSPHRASE), { keyManagementAlgorithms: ['PBES2-HS512+A256KW'], maxPBES2Count: 1_000_000 });
  const entries = JSON.parse(new TextDecoder().decode(plaintext)).entries as Record<string, string>;
  return JSON.parse(Object.entries(entries).find(([name]) => name.startsWith('issuer/'))![1]).d as string;
}

function freshHome(): TempHome {
  const home = track(makeTempHome());
  home.env['AGENTAUTH_PASSPHRASE_FILE'] = home.passphraseFile;
  return home;
}

describe('backup', () => {
  it('writes one 0600 file with no secret in the clear, and logs backup.create', async () => {
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(backupFile, 'utf8');
    expect(text.trim().split('.')).toHaveLength(5);
    for (const needle of [privateD, VALUE, '"issuer/', 'coder']) expect(text).not.toContain(needle);
    const events = readFileSync(join(source.home, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const created = events.find((event) => event.kind === 'backup.create');
    expect(created.data).toMatchObject({ file: backupFile, secrets: 1, entries: expect.arrayContaining(['log-key', 'vault-key']) });
  });

  it('refuses to overwrite without --force (exit 2, the file unchanged), replaces it with --force', async () => {
    const before = readFileSync(backupFile);
    const r = await source.run(['backup', '--out', backupFile, '--backup-passphrase-file', backupPassFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists/);
    expect(r.stderr).toMatch(/--force/);
    expect(readFileSync(backupFile)).toEqual(before);
    const other = join(source.dir, 'second.backup');
    writeFileSync(other, 'old', { mode: 0o600 });
    expect((await source.run(['backup', '--out', other, '--force', '--backup-passphrase-file', backupPassFile])).code).toBe(0);
    expect(readFileSync(other, 'utf8')).not.toBe('old');
  });

  it('asks for the backup passphrase separately: off a terminal it names the backup flags, and a weak one is refused', async () => {
    const out = join(source.dir, 'never.backup');
    const none = await source.run(['backup', '--out', out]);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/backup passphrase is needed/);
    expect(none.stderr).toMatch(/--backup-passphrase-file/);
    const weak = await source.run(['backup', '--out', out], { env: { AGENTAUTH_BACKUP_PASSPHRASE: 'short' } });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/backup passphrase is too weak: it has 5 characters; use at least 12/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('restore (file backend)', () => {
  it('rebuilds the install: same kid, old tokens verify, new ones mint, and the copied log continues and verifies', async () => {
    const mint = await source.run(['token', 'mint', 'coder', '--aud', 'git.lan']);
    expect(mint.code).toBe(0);
    const target = freshHome();
    // The user copies the log along with the backup.
    const { mkdirSync, copyFileSync } = await import('node:fs');
    mkdirSync(target.home, { mode: 0o700 });
    copyFileSync(join(source.home, 'audit.jsonl'), join(target.home, 'audit.jsonl'));
    const r = await target.run(['restore', backupFile, '--backup-passphrase-file', backupPassFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ backend: 'file', fromBackend: 'file', auditLog: { continued: true } });
    expect(JSON.stringify(doc)).not.toContain(privateD);
    const kid = (home: TempHome) => JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8')).keys[0].kid;
    expect(kid(target)).toBe(kid(source));
    expect((await target.run(['token', 'verify', mint.stdout.trim(), '--aud', 'git.lan'])).code).toBe(0);
    expect((await target.run(['token', 'mint', 'coder', '--aud', 'git.lan'])).code).toBe(0);
    const verify = await target.run(['audit', 'verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
    const events = readFileSync(join(target.home, 'audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(events.filter((event) => event.kind === 'log.init')).toHaveLength(1);
    const restored = events.find((event) => event.kind === 'backup.restore');
    const created = events.find((event) => event.kind === 'backup.create');
    expect(restored.data.backup_id).toBe(created.data.backup_id);
    expect(statSync(join(target.home, 'keystore.jwe')).mode & 0o777).toBe(0o600);
  });

  it('a wrong backup passphrase: exit 4, nothing written', async () => {
    const target = freshHome();
    const r = await target.run(['restore', backupFile], { env: { AGENTAUTH_BACKUP_PASSPHRASE: 'not the backup passphrase' } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/wrong backup passphrase/);
    expect(existsSync(target.home)).toBe(false);
  });

  it('a corrupted or truncated backup: exit 4 with the reason, nothing written', async () => {
    const jwe = readFileSync(backupFile, 'utf8').trim();
    const parts = jwe.split('.');
    const flipped = parts[3]!.slice(0, 10) + (parts[3]![10] === 'A' ? 'B' : 'A') + parts[3]!.slice(11);
    const cases = {
      corrupted: [...parts.slice(0, 3), flipped, parts[4]].join('.'),
      truncated: jwe.slice(0, Math.floor(jwe.length / 2)),
      'not a backup': 'hello\n',
    };
    for (const [name, content] of Object.entries(cases)) {
      const target = freshHome();
      const file = writeTempFile(target.dir, 'bad.backup', content);
      const r = await target.run(['restore', file, '--backup-passphrase-file', backupPassFile]);
      expect(r.code, name).toBe(4);
      expect(r.stderr, name).toMatch(name === 'corrupted' ? /wrong backup passphrase, or the file was altered/ : /not a readable agentauth backup/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(target.home), name).toBe(false);
    }
  });

  it('a missing file exits 3; a keystore given as a backup is named as such (2)', async () => {
    const target = freshHome();
    const missing = await target.run(['restore', join(target.dir, 'nope.backup')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/nope\.backup \(from restore FILE\) does not exist\n  hint: make one with: agentauth backup/);
    const keystore = await target.run(['restore', join(source.home, 'keystore.jwe')]);
    expect(keystore.code).toBe(2);
    expect(keystore.stderr).toMatch(/is a keystore file, not a backup/);
    expect(existsSync(target.home)).toBe(false);
  });

  it('refuses an initialised home (exit 2, nothing changed); --force replaces the install and keeps its log', async () => {
    const target = track(await makeInitialisedHome());
    const before = snapshotDir(target.home);
    const r = await target.run(['restore', backupFile, '--backup-passphrase-file', backupPassFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already holds an agentauth install/);
    expect(r.stderr).toMatch(/--force/);
    expect(snapshotDir(target.home)).toEqual(before);
    const forced = await target.run(['restore', backupFile, '--backup-passphrase-file', backupPassFile, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const asideLog = readdirSync(target.home).find((name) => /^audit-[0-9a-f]+\.jsonl$/.test(name));
    expect(asideLog).toBeDefined();
    expect((await target.run(['audit', 'verify'])).code).toBe(0);
    expect((await target.run(['agent', 'list', '--names'])).stdout.trim()).toBe('coder');
  });
});

describe('passphrase change', () => {
  it('checks the old passphrase first, refuses a weak new one, and swaps atomically', async () => {
    const home = track(await makeInitialisedHome());
    const keystore = join(home.home, 'keystore.jwe');
    const before = readFileSync(keystore);
    const newFile = writeTempFile(home.dir, 'new-pass', 'the new keystore passphrase\n');
    const wrongOld = await home.run(['passphrase', 'change', '--new-passphrase-file', newFile], { env: { AGENTAUTH_PASSPHRASE_FILE: undefined, AGENTAUTH_PASSPHRASE: 'not the passphrase' } });
    expect(wrongOld.code).toBe(4);
    expect(wrongOld.stderr).toMatch(/wrong passphrase/);
    expect(readFileSync(keystore)).toEqual(before);
    const weak = await home.run(['passphrase', 'change'], { env: { AGENTAUTH_NEW_PASSPHRASE: 'aaaaaaaaaaaaaaaa' } });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/too weak: it repeats too few different characters/);
    expect(readFileSync(keystore)).toEqual(before);
    const noNew = await home.run(['passphrase', 'change']);
    expect(noNew.code).toBe(4);
    expect(noNew.stderr).toMatch(/--new-passphrase-file/);
    const ok = await home.run(['passphrase', 'change', '--new-passphrase-file', newFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/still holds the old one/);
    expect(ok.stdout + ok.stderr).not.toContain('the new keystore passphrase');
    expect((await home.run(['key', 'rotate'])).code).toBe(4);
    expect((await home.run(['key', 'rotate'], { env: { AGENTAUTH_PASSPHRASE_FILE: newFile } })).code).toBe(0);
    expect(readdirSync(home.home).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('is refused on the keychain backend with what to do instead', async () => {
    const home = track(await makeInitialisedHome());
    const config = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8'));
    writeFileSync(join(home.home, 'config.json'), JSON.stringify({ ...config, backend: 'keychain' }), { mode: 0o600 });
    const r = await home.run(['passphrase', 'change']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/migrate --to file/);
  });
});

describe('reset', () => {
  it('off a terminal without --yes it refuses, naming --yes, and removes nothing', async () => {
    const home = track(await makeInitialisedHome());
    const before = snapshotDir(home.home);
    const r = await home.run(['reset']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(snapshotDir(home.home)).toEqual(before);
  });

  it('--yes removes the files, keeps the log set aside with a last checkpoint, and init works again', async () => {
    const home = track(await makeInitialisedHome());
    expect((await home.run(['secret', 'add', 'gh', '--host', 'api.github.com', '--header', 'A'], { input: VALUE })).code).toBe(0);
    const vkey = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8')).log.vkey;
    const r = await home.run(['reset', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.log).toMatchObject({ action: 'set-aside', checkpoint: true, vkey });
    const left = readdirSync(home.home);
    expect(left).toEqual([expect.stringMatching(/^audit-[0-9a-f]+\.jsonl$/)]);
    const verify = await home.run(['audit', 'verify', join(home.home, left[0]!), '--vkey', vkey, '--strict']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect((await home.run(['init', '--backend', 'file'])).code).toBe(0);
  });

  it('--purge-log deletes the log too', async () => {
    const home = track(await makeInitialisedHome());
    const r = await home.run(['reset', '--yes', '--purge-log']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(home.home)).toBe(false);
  });
});
