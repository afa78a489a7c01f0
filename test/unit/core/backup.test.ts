// The backup file: sealed and opened under its passphrase, checked before use.
import { describe, expect, it } from 'vitest';
import { inspectBackup, newBackupId, openBackup, sealBackup, type BackupPayload } from '../../../src/core/backup.js';
import { planInstall } from '../../../src/core/install.js';
import { createLogKey } from '../../../src/core/audit/log-key.js';

const PASS = 'backup passphrase for tests';

async function makePayload(): Promise<BackupPayload> {
  const plan = await planInstall({ backend: 'keychain', issuer: 'https://issuer.test', now: new Date(), createLogKey });
  return { v: 1, id: newBackupId(), createdAt: new Date().toISOString(), backend: 'keychain', config: plan.config, keystore: plan.keystoreEntries, vault: null, caCert: null };
}

describe('backup file', () => {
  it('round-trips under its passphrase', async () => {
    const payload = await makePayload();
    const jwe = inspectBackup(`${await sealBackup(payload, PASS)}\n`, 'b');
    const opened = await openBackup(jwe, PASS, 'b');
    expect(opened.keystore).toEqual(payload.keystore);
    expect(opened.config.installId).toBe(payload.config.installId);
  });

  it('a wrong passphrase and altered bytes are the same error; a cut file and another JWE are refused before decrypting', async () => {
    const jwe = await sealBackup(await makePayload(), PASS);
    await expect(openBackup(jwe, 'another passphrase', 'b')).rejects.toMatchObject({ code: 'WRONG_BACKUP_PASSPHRASE', kind: 'keystore' });
    const parts = jwe.split('.');
    const altered = [...parts.slice(0, 3), `${parts[3]!.slice(0, -2)}${parts[3]!.endsWith('AA') ? 'BB' : 'AA'}`, parts[4]].join('.');
    await expect(openBackup(altered, PASS, 'b')).rejects.toMatchObject({ code: 'WRONG_BACKUP_PASSPHRASE' });
    expect(() => inspectBackup(parts.slice(0, 3).join('.'), 'b')).toThrow(expect.objectContaining({ code: 'BACKUP_DAMAGED' }));
    expect(() => inspectBackup('not a jwe', 'b')).toThrow(expect.objectContaining({ code: 'BACKUP_DAMAGED' }));
  });

  it('refuses a payload whose keys do not match its config', async () => {
    const payload = await makePayload();
    const other = await makePayload();
    const kid = payload.config.keys[0]!.kid;
    const swapped = { ...payload, keystore: { ...payload.keystore, [`issuer/${kid}`]: Object.values(other.keystore)[0]! } };
    await expect(openBackup(await sealBackup(swapped, PASS), PASS, 'b')).rejects.toMatchObject({ code: 'BACKUP_DAMAGED', message: expect.stringContaining('does not match the public key') });
    const missing = { ...payload, keystore: { [`issuer/${kid}`]: payload.keystore[`issuer/${kid}`]! } };
    await expect(openBackup(await sealBackup(missing, PASS), PASS, 'b')).rejects.toMatchObject({ message: expect.stringContaining('lacks keystore entries its config records: log-key') });
  });
});
