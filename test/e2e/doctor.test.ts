// doctor on a file-backend install (a headless Pi): what that backend needs,
// and no red lines about a D-Bus it does not use (issue 13, item 7). The
// keychain side is in lifecycle-keychain.test.ts.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, type TempHome } from '../helpers/cli.js';

let t: TempHome;
const headless = { DBUS_SESSION_BUS_ADDRESS: undefined, SSH_CONNECTION: '192.0.2.1 5000 192.0.2.2 22' };
beforeAll(async () => {
  t = await makeInitialisedHome(headless);
});
afterAll(() => t.cleanup());

describe('doctor on the file backend', () => {
  it('healthy: the passphrase source and its mode, the file modes, the keys; the keychain only as "not used"', async () => {
    const r = await t.run(['doctor']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).not.toMatch(/FAIL/);
    expect(r.stdout).toMatch(/^ok {3}backend: file: .*keystore\.jwe/m);
    expect(r.stdout).toContain(`ok   passphrase: from AGENTAUTH_PASSPHRASE_FILE (${t.passphraseFile}, mode 600)`);
    expect(r.stdout).toMatch(/^info keychain: not used \(file backend\)/m);
    expect(r.stdout).not.toMatch(/D-Bus session bus/);
    expect(r.stdout).toMatch(/^ok {3}file modes: .*config\.json 600, keystore\.jwe 600, audit\.jsonl 600/m);
    expect(r.stdout).toMatch(/^ok {3}keys: the 2 entries the install needs are present/m);
    expect(r.stdout).toMatch(/^(ok  |FAIL) sandbox: /m);
    const json = JSON.parse((await t.run(['doctor', '--json'])).stdout);
    expect(json).toMatchObject({ schemaVersion: 1, backend: 'file', keychainUsable: null });
    const byName = Object.fromEntries(json.checks.map((check: { name: string }) => [check.name, check]));
    expect(byName['keychain']).toMatchObject({ status: 'info', ok: true });
    expect(byName['passphrase']).toMatchObject({ status: 'ok' });
    expect(byName['keys']).toMatchObject({ status: 'ok' });
  });

  it('no passphrase source: says so as info and what scripts need; the keys are not unlocked', async () => {
    const r = await t.run(['doctor'], { env: { AGENTAUTH_PASSPHRASE_FILE: undefined } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^info passphrase: none set: .*fail in scripts and services\n\s+fix: .*AGENTAUTH_PASSPHRASE_FILE=FILE/m);
    expect(r.stdout).toMatch(/^info keys: .*keystore\.jwe is present/m);
  });

  it('a passphrase file others can read, and a wrong passphrase, are FAIL with the fix (exit 4)', async () => {
    chmodSync(t.passphraseFile, 0o644);
    try {
      const loose = await t.run(['doctor']);
      expect(loose.code).toBe(4);
      expect(loose.stdout).toMatch(/^FAIL passphrase: .*other users can read/m);
      expect(loose.stdout).toContain(`fix: chmod 600 '${t.passphraseFile}'`);
    } finally {
      chmodSync(t.passphraseFile, 0o600);
    }
    const wrong = join(t.dir, 'wrong-pass');
    writeFileSync(wrong, 'not the passphrase at all\n', { mode: 0o600 });
    const r = await t.run(['doctor'], { env: { AGENTAUTH_PASSPHRASE_FILE: wrong } });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^FAIL keys: wrong passphrase for /m);
  });
});
