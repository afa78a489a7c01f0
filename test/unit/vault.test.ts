import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/core/config.js';
import { createMemoryKeystore } from '../../src/core/keystore/memory.js';
import { decryptValue, decryptValues, encryptValue, obtainVaultKey, readVault, updateVault } from '../../src/core/vault.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const config = (entries: string[] = []) => ({ keystoreEntries: entries }) as unknown as Config;

describe('vault', () => {
  it('AES-256-GCM with a fresh nonce per value and the name as additional data', () => {
    const key = Buffer.alloc(32, 7);
    const a = encryptValue(key, 'one', Buffer.from('value-value'), new Date());
    const b = encryptValue(key, 'one', Buffer.from('value-value'), new Date());
    expect(Buffer.from(a.nonce, 'base64url')).toHaveLength(12);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ct).not.toBe(b.ct);
    expect(decryptValue(key, 'one', a, 'f').toString()).toBe('value-value');
    // Moved to another name: the tag no longer verifies.
    expect(() => decryptValue(key, 'two', a, 'f')).toThrow(expect.objectContaining({ code: 'VAULT_DECRYPT_FAILED', kind: 'keystore' }));
    const tampered = { ...a, ct: Buffer.from(Buffer.from(a.ct, 'base64url').map((x, i) => (i === 0 ? x ^ 1 : x))).toString('base64url') };
    expect(() => decryptValue(key, 'one', tampered, 'f')).toThrow(/cannot be decrypted/);
  });

  it('creates the data key on first use, reuses it, and never silently replaces a lost one', async () => {
    const keystore = createMemoryKeystore();
    const dir = mkdtempSync(join(tmpdir(), 'aa-vault-'));
    dirs.push(dir);
    const create = { create: true, vaultFile: join(dir, 'vault.json') } as const;
    const first = await obtainVaultKey(config(), keystore, create);
    expect(first.created).toBe(true);
    const again = await obtainVaultKey(config(['vault-key']), keystore, create);
    expect(again.key.equals(first.key)).toBe(true);
    await keystore.deleteMany(['vault-key']);
    await expect(obtainVaultKey(config(['vault-key']), keystore, create)).rejects.toMatchObject({ code: 'KEY_MISSING' });
  });

  it('writes vault.json 0600 atomically and holds no plaintext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aa-vault-'));
    dirs.push(dir);
    const file = join(dir, 'vault.json');
    const key = Buffer.alloc(32, 9);
    await updateVault(file, process.getuid?.(), (vault) => {
      vault.values['api'] = encryptValue(key, 'api', Buffer.from('super-secret-value'), new Date());
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('super-secret-value');
    expect(decryptValues(file, process.getuid?.(), key, ['api']).get('api')!.toString()).toBe('super-secret-value');
    expect(() => decryptValues(file, process.getuid?.(), key, ['other'])).toThrow(/no value/);
    writeFileSync(file, 'not json', { mode: 0o600 });
    expect(() => readVault(file, process.getuid?.())).toThrow(/damaged/);
  });
});
