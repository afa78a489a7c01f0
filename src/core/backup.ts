// The backup file: everything needed to rebuild an install, in one JWE under
// a passphrase of its own (PBES2-HS512+A256KW, A256GCM, as the file keystore).
// Inside: the config, every keystore entry (issuer keys, log key, vault key,
// CA key, the gateway's cached leaves), vault.json and the CA certificate.
// Not inside: the audit log. It holds no secret, it can be large, and it is
// tamper-evident on its own: it is copied as it is, and the log key in the
// backup keeps signing it after a restore.
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, type JWK } from 'jose';
import { parseConfig, type BackendName, type Config } from './config.js';
import { AgentAuthError, keystoreError, usageError } from './errors.js';
import { findActiveKey } from './issuer.js';
import { decryptWithPassphrase, encryptWithPassphrase, KEY_WRAP_ALG } from './keystore/file.js';
import { entryName } from './keystore/index.js';
import type { VaultFile } from './vault.js';

export const BACKUP_CTY = 'application/vnd.agentauth.backup+json';

export interface BackupPayload {
  v: 1;
  /** Random; the `backup.create` event and the `backup.restore` event both name it, linking the two logs. */
  id: string;
  createdAt: string;
  /** The backend the keys were read from. */
  backend: BackendName;
  config: Config;
  keystore: Record<string, string>;
  vault: VaultFile | null;
  caCert: string | null;
}

export function newBackupId(): string {
  return randomBytes(12).toString('base64url');
}

export async function sealBackup(payload: BackupPayload, passphrase: string): Promise<string> {
  return encryptWithPassphrase(JSON.stringify(payload), passphrase, BACKUP_CTY);
}

/** Checks, before any passphrase is asked for, that `text` is a backup at all. Returns the compact JWE. */
export function inspectBackup(text: string, file: string): string {
  const jwe = text.trim();
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jwe) as Record<string, unknown>;
  } catch {
    throw damagedBackup(file, 'it is not a JWE');
  }
  if (header['cty'] === 'application/vnd.agentauth.keystore+json') {
    throw usageError('NOT_A_BACKUP', `${file} is a keystore file, not a backup`, { hint: 'make a backup with: agentauth backup --out FILE' });
  }
  if (header['cty'] !== BACKUP_CTY || header['alg'] !== KEY_WRAP_ALG) throw damagedBackup(file, 'it is not an agentauth backup');
  if (jwe.split('.').length !== 5) throw damagedBackup(file, 'it is truncated');
  return jwe;
}

/** Decrypts and checks a backup; throws WRONG_BACKUP_PASSPHRASE (which a prompt may retry) or BACKUP_DAMAGED. */
export async function openBackup(jwe: string, passphrase: string, file: string): Promise<BackupPayload> {
  let plaintext: Uint8Array;
  try {
    plaintext = await decryptWithPassphrase(jwe, passphrase);
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_JWE_DECRYPTION_FAILED') {
      // PBES2 gives no way to tell a wrong passphrase from altered bytes: both fail the same check.
      throw keystoreError('WRONG_BACKUP_PASSPHRASE', `cannot decrypt ${file}: wrong backup passphrase, or the file was altered`, {
        hint: 'the backup passphrase is the one given to agentauth backup, not the keystore passphrase',
      });
    }
    throw damagedBackup(file, `${(error as Error).message}`);
  }
  let payload: BackupPayload;
  try {
    payload = JSON.parse(new TextDecoder().decode(plaintext)) as BackupPayload;
  } catch {
    throw damagedBackup(file, 'it decrypted to something that is not JSON');
  }
  checkPayload(payload, file);
  return payload;
}

function checkPayload(payload: BackupPayload, file: string): void {
  if (!payload || payload.v !== 1 || typeof payload.keystore !== 'object' || payload.keystore === null || typeof payload.id !== 'string') {
    throw damagedBackup(file, 'unknown layout');
  }
  // The same checks as a config.json read from disk.
  payload.config = parseConfig(JSON.stringify(payload.config), `${file} (its config)`);
  for (const [name, value] of Object.entries(payload.keystore)) {
    if (typeof value !== 'string') throw damagedBackup(file, `keystore entry "${name}" is not a string`);
  }
  const missing = payload.config.keystoreEntries.filter((name) => !(name in payload.keystore));
  if (missing.length > 0) throw damagedBackup(file, `it lacks keystore entries its config records: ${missing.join(', ')}`);
  // The active key's private half must belong to the public key verifiers hold.
  const active = findActiveKey(payload.config);
  const privateJwk = payload.keystore[entryName.issuer(active.kid)];
  let x: unknown;
  try {
    x = (JSON.parse(privateJwk ?? 'null') as JWK | null)?.x;
  } catch {
    x = undefined;
  }
  if (x !== active.jwk.x) throw damagedBackup(file, `its issuer key does not match the public key of kid ${active.kid}`);
  if (payload.vault !== null && (typeof payload.vault !== 'object' || payload.vault.v !== 1)) throw damagedBackup(file, 'its vault has an unknown layout');
  if (payload.caCert !== null && typeof payload.caCert !== 'string') throw damagedBackup(file, 'its CA certificate is not text');
}

function damagedBackup(file: string, why: string): AgentAuthError {
  return keystoreError('BACKUP_DAMAGED', `${file} is not a readable agentauth backup: ${why}`, {
    hint: 'it may be truncated or damaged; use another copy of the backup',
  });
}
