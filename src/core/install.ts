// Creating an install: ids, the issuer key, the audit log key, the config.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { BackendName, Config } from './config.js';
import { generateIssuerKey } from './issuer.js';
import { entryName } from './keystore/index.js';

export interface NewInstall {
  config: Config;
  /** Private entries to put in the keystore before the config is written. */
  keystoreEntries: Record<string, string>;
}

export function defaultIssuer(): string {
  return `urn:agentauth:${hostname().toLowerCase()}`;
}

export function validateIssuer(issuer: string): string | null {
  if (issuer.trim() !== issuer || issuer.length === 0 || /\s/.test(issuer)) return 'it must be one non-empty value without spaces';
  if (!/^[a-z][a-z0-9+.-]*:/i.test(issuer)) return 'it must be a URI (https://auth.example.com or urn:agentauth:host)';
  return null;
}

export async function planInstall(options: {
  backend: BackendName;
  issuer: string;
  now: Date;
  createLogKey: (origin: string) => Promise<{ privateJwk: string; vkey: string }>;
}): Promise<NewInstall> {
  const installId = randomBytes(8).toString('hex');
  const origin = `agentauth.local/${installId}`;
  const issuerKey = await generateIssuerKey(options.now);
  const logKey = await options.createLogKey(origin);
  const keystoreEntries = {
    [entryName.issuer(issuerKey.record.kid)]: issuerKey.privateJwk,
    [entryName.logKey]: logKey.privateJwk,
  };
  const config: Config = {
    schemaVersion: 1,
    installId,
    issuer: options.issuer,
    backend: options.backend,
    createdAt: options.now.toISOString(),
    keys: [issuerKey.record],
    log: { origin, vkey: logKey.vkey },
    agents: {},
    secrets: {},
    keystoreEntries: Object.keys(keystoreEntries),
  };
  return { config, keystoreEntries };
}
