// The keychain backend against a real Secret Service (gnome-keyring under
// dbus-run-session, started by .ci/with-keyring.sh). Without one, these tests
// are skipped with the reason printed, never passed silently.
import { execa } from 'execa';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';
import { findSecretServiceGap } from '../helpers/secret-service.js';

const skipReason = await findSecretServiceGap('keychain tests');

/** The secret stored for one keychain account, or null (`secret-tool lookup` prints only the secret). */
async function lookupKeyring(account: string): Promise<string | null> {
  const r = await execa('secret-tool', ['lookup', 'service', 'agentauth', 'username', account], { reject: false });
  return r.exitCode === 0 && r.stdout.length > 0 ? r.stdout : null;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

describe.skipIf(skipReason !== null)('keychain backend (real Secret Service)', () => {
  let t: TempHome;
  let installId: string;
  const env = () => ({ DBUS_SESSION_BUS_ADDRESS: process.env['DBUS_SESSION_BUS_ADDRESS'] });

  beforeAll(async () => {
    t = makeTempHome();
    Object.assign(t.env, env());
    const r = await t.run(['init', '--backend', 'keychain', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe('keychain');
    installId = JSON.parse(r.stdout).installId;
    expect((await t.run(['agent', 'add', 'coder', '--scope', 'repo:read'])).code).toBe(0);
  });
  afterAll(() => t?.cleanup());

  it('mints and verifies with keys held in the Secret Service', async () => {
    const mint = await t.run(['token', 'mint', 'coder', '--aud', 'git.lan']);
    expect(mint.code, mint.stderr).toBe(0);
    const verify = await t.run(['token', 'verify', mint.stdout.trim(), '--aud', 'git.lan']);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^valid/);
  });

  it('the private key is in the Secret Service and in no file under the agentauth folders', async () => {
    const config = JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8'));
    const kid = config.keys[0].kid;
    const issuer = await lookupKeyring(`${installId}/issuer/${kid}`);
    expect(issuer).not.toBeNull();
    const d = JSON.parse(issuer!).d as string;
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const logKey = await lookupKeyring(`${installId}/log-key`);
    const logD = JSON.parse(logKey!).d as string;
    expect(logD).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const file of filesUnder(t.dir)) {
      const content = readFileSync(file);
      expect(content.includes(d), file).toBe(false);
      expect(content.includes(logD), file).toBe(false);
      expect(content.includes(Buffer.from(d, 'base64url')), file).toBe(false);
    }
    expect(filesUnder(t.home).some((file) => file.endsWith('keystore.jwe'))).toBe(false);
  });

  it('a key deleted behind its back is a loud error (exit 4), and no new key is made', async () => {
    const config = JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8'));
    const kid = config.keys[0].kid;
    await execa('secret-tool', ['clear', 'service', 'agentauth', 'username', `${installId}/issuer/${kid}`]);
    const before = snapshotDir(t.home);
    const r = await t.run(['token', 'mint', 'coder', '--aud', 'git.lan']);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`no longer holds "issuer/${kid}"`));
    expect(r.stderr).toMatch(/will not create a new key/);
    expect(snapshotDir(t.home)).toEqual(before);
    // Still gone: nothing was regenerated under the recorded kid or the config.
    expect(await lookupKeyring(`${installId}/issuer/${kid}`)).toBeNull();
    expect(JSON.parse(readFileSync(join(t.home, 'config.json'), 'utf8')).keys).toHaveLength(1);
  });

  it('a keychain that stops answering is exit 4 with the fix, never a silent switch to a file', async () => {
    const before = snapshotDir(t.home);
    const r = await t.run(['token', 'mint', 'coder', '--aud', 'git.lan'], { env: { DBUS_SESSION_BUS_ADDRESS: undefined } });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/keychain is unavailable/);
    expect(r.stderr).toMatch(/hint:/);
    expect(snapshotDir(t.home)).toEqual(before);
  });
});
