// config.json: the public half of an install (issuer, backend, agents,
// secrets' bindings and grants, public keys). Never holds private material.
import { findConfigProblem } from './config-schema.js';
import { AgentAuthError, notFoundError, keystoreError } from './errors.js';
import { readPrivateFile, writePrivateFileAtomic } from './fs-safe.js';
import { withFileLock } from './lock.js';
import { assertSafeHome, type Paths } from './paths.js';
import type { Settings } from './settings.js';

export type BackendName = 'keychain' | 'file' | 'memory';

export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface IssuerKeyRecord {
  kid: string;
  jwk: PublicJwk;
  createdAt: string;
  /** `active` signs new tokens; `previous` stays in the JWKS until `retireAfter`. */
  status: 'active' | 'previous';
  /** Epoch seconds after which a previous key may leave the JWKS. */
  retireAfter?: number;
}

export interface GrantRecord {
  secret: string;
  /** Narrowing only: a subset of the secret's methods; absent = all the secret allows. */
  methods?: string[];
  /** Narrowing only: path prefixes inside the secret's path prefix. */
  paths?: string[];
}

export interface AgentRecord {
  name: string;
  scopes: string[];
  /** Seconds. */
  maxTtl: number;
  audiences?: string[];
  description?: string;
  /** Tokens only with a DPoP key (cnf.jkt); a mint without one is refused. */
  dpop?: boolean;
  grants: GrantRecord[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Where a secret's value may travel: a request header (its value written by
 * `format`: a template holding `{}` once, or `basic:USER` for HTTP Basic with
 * the value as the password), or a query parameter.
 */
export type HeaderPlacement = { header: string; format?: string };
export type QueryPlacement = { query: string };
export type Placement = HeaderPlacement | QueryPlacement;

export interface SecretRecord {
  name: string;
  hosts: string[];
  pathPrefix?: string;
  methods?: string[];
  /** One or more; the swap happens in whichever holds the placeholder. */
  placements: Placement[];
  /** Variables that hold the placeholder in the child. */
  env?: string[];
  baseUrlEnv?: string;
  /** The preset the binding was filled from, if any (informational). */
  preset?: string;
  createdAt: string;
  rotatedAt?: string;
  /** Counts `secret rotate`s; part of the placeholder's derivation, so a rotation changes it. */
  rotation?: number;
}

export interface LogKeyRecord {
  origin: string;
  /** C2SP verifier key: `<origin>+<hex key id>+<base64(0x01 ‖ public key)>`. */
  vkey: string;
}

export interface Config {
  schemaVersion: 1;
  installId: string;
  issuer: string;
  backend: BackendName;
  createdAt: string;
  keys: IssuerKeyRecord[];
  log: LogKeyRecord;
  agents: Record<string, AgentRecord>;
  secrets: Record<string, SecretRecord>;
  /** Names of keystore entries the install relies on, so a vanished one is noticed. */
  keystoreEntries: string[];
  /** `agentauth config set`: see settings.ts. */
  settings?: Settings;
}

export function notInitialisedError(paths: Paths): AgentAuthError {
  return notFoundError('NOT_INITIALISED', `agentauth is not initialised (no ${paths.config})`, {
    hint: 'run: agentauth init',
  });
}

export function readConfig(paths: Paths): Config | null {
  assertSafeHome(paths);
  const raw = readPrivateFile(paths.config, paths.owner);
  return raw === null ? null : parseConfig(raw.toString('utf8'), paths.config);
}

export function parseConfig(text: string, file: string): Config {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw corruptConfigError(file, `it is not valid JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw corruptConfigError(file, 'it is not a JSON object');
  const schemaVersion = (value as { schemaVersion?: unknown }).schemaVersion;
  if (schemaVersion !== 1) throw corruptConfigError(file, `unknown schemaVersion ${JSON.stringify(schemaVersion)}`);
  const problem = findConfigProblem(value);
  if (problem) throw corruptConfigError(file, `field "${problem.field}" must be ${problem.expected} (found ${problem.found})`, { field: problem.field });
  const config = value as Config;
  // Written by versions before secrets existed.
  config.secrets ??= {};
  for (const secret of Object.values(config.secrets)) upgradeSecretRecord(secret);
  config.keystoreEntries ??= [];
  return config;
}

/**
 * Bindings written before a secret could have several placements and
 * variables (`header` + `format`, or `query`; `env` as one string) are read
 * in today's shape; the next write stores them so.
 */
function upgradeSecretRecord(secret: SecretRecord): void {
  const legacy = secret as SecretRecord & { header?: string; format?: string; query?: string; env?: string | string[] };
  if (legacy.placements === undefined) {
    legacy.placements = legacy.header !== undefined ? [{ header: legacy.header, ...(legacy.format !== undefined ? { format: legacy.format } : {}) }] : legacy.query !== undefined ? [{ query: legacy.query }] : [];
  }
  delete legacy.header;
  delete legacy.format;
  delete legacy.query;
  if (typeof legacy.env === 'string') legacy.env = [legacy.env];
}

function corruptConfigError(file: string, why: string, details?: Record<string, unknown>): AgentAuthError {
  return keystoreError('CORRUPT_CONFIG', `${file} is damaged: ${why}`, {
    hint: `correct it by hand, bring it back from a backup (agentauth restore FILE --force), or move it away and run 'agentauth init' again`,
    details: { file, ...details },
  });
}

export function requireConfig(paths: Paths): Config {
  const config = readConfig(paths);
  if (!config) throw notInitialisedError(paths);
  return config;
}

/** Notes that the keystore now holds `name`, so that losing it is noticed, not regenerated. */
export function recordKeystoreEntry(config: Config, name: string): void {
  if (!config.keystoreEntries.includes(name)) config.keystoreEntries.push(name);
}

export function writeConfig(paths: Paths, config: Config): void {
  writePrivateFileAtomic(paths.config, `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Read-modify-write under the config lock, so two processes adding agents at
 * once never lose one of the two updates.
 */
export async function updateConfig<T>(paths: Paths, change: (config: Config) => Promise<T> | T): Promise<{ config: Config; result: T }> {
  return withFileLock(paths.config, async () => {
    const config = requireConfig(paths);
    const result = await change(config);
    writeConfig(paths, config);
    return { config, result };
  });
}
