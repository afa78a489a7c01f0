// `secret add | list | rm | rotate` and `grant` (gateway.md, "Secrets").
// Values never come from argv: stdin, a hidden prompt, or --from-file.
import { recordKeystoreEntry, updateConfig, type Config, type SecretRecord } from '../core/config.js';
import { AgentAuthError, usageError } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { applyPreset } from '../core/presets.js';
import { buildSecretRecord, describePlacement, findSecret, removeSecret, validateSecretValue, type SecretInput } from '../core/secrets.js';
import { validateName } from '../core/names.js';
import { encryptValue, obtainVaultKey, updateVault } from '../core/vault.js';
import { entryName } from '../core/keystore/index.js';
import { renderSecret, renderSecretList, type SecretView } from '../ui/render-gateway.js';
import { recordEvents } from './audit-events.js';
import { readStdinBytes, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';

export interface SecretAddFlags extends KeystoreFlags {
  preset?: string;
  host?: string[];
  path?: string;
  method?: string[];
  header?: string[];
  format?: string;
  query?: string[];
  env?: string[];
  baseUrlEnv?: string;
  fromFile?: string;
}

export interface SecretValueFlags extends KeystoreFlags {
  fromFile?: string;
}

/** The value, from --from-file, piped stdin, or a hidden prompt on a terminal; never argv. */
async function readSecretValue(ctx: Context, name: string, flags: SecretValueFlags): Promise<Buffer> {
  if (flags.fromFile !== undefined) {
    return validateSecretValue(readUserFile(flags.fromFile, '--from-file'));
  }
  if (ctx.stdin.isTTY !== true) {
    if (flags.passphraseStdin) {
      throw usageError('STDIN_CONFLICT', 'stdin cannot carry both the secret value and the passphrase', { hint: 'use --from-file for the value, or --passphrase-file / AGENTAUTH_PASSPHRASE_FILE for the passphrase' });
    }
    return validateSecretValue(await readStdinBytes(ctx.stdin));
  }
  if (!ctx.interactive) {
    throw usageError('VALUE_REQUIRED', `no value for secret "${name}" and no terminal to ask on`, { hint: 'pipe it in (printf %s "$KEY" | agentauth secret add …) or pass --from-file FILE' });
  }
  const { promptSecretValue, standardTerminal } = await import('../ui/prompts.js');
  return validateSecretValue(await promptSecretValue(name, standardTerminal(ctx)));
}

/** True when the value is read from stdin, which then cannot carry a passphrase too. */
function valueFromStdin(ctx: Context, flags: SecretValueFlags): boolean {
  return flags.fromFile === undefined && ctx.stdin.isTTY !== true;
}

function toSecretInput(flags: SecretAddFlags): SecretInput {
  const input: SecretInput = {
    hosts: flags.host ?? [],
    ...(flags.path !== undefined ? { path: flags.path } : {}),
    ...(flags.method ? { methods: flags.method } : {}),
    ...(flags.header ? { headers: flags.header } : {}),
    ...(flags.format !== undefined ? { format: flags.format } : {}),
    ...(flags.query ? { queries: flags.query } : {}),
    ...(flags.env ? { env: flags.env } : {}),
    ...(flags.baseUrlEnv !== undefined ? { baseUrlEnv: flags.baseUrlEnv } : {}),
  };
  return flags.preset !== undefined ? applyPreset(flags.preset, input) : input;
}

/** What the audit log keeps of a binding: names and places, never the value. */
function describeBinding(record: SecretRecord): Record<string, unknown> {
  return {
    secret: record.name,
    hosts: record.hosts,
    ...(record.pathPrefix !== undefined ? { path: record.pathPrefix } : {}),
    ...(record.methods ? { methods: record.methods } : {}),
    placements: record.placements.map(describePlacement),
    ...(record.preset !== undefined ? { preset: record.preset } : {}),
  };
}

export async function addSecretCommand(ctx: Context, name: string, flags: SecretAddFlags): Promise<CommandResult> {
  validateName(name, 'secret');
  const record = buildSecretRecord(name, toSecretInput(flags), new Date());
  const before = loadConfig(ctx);
  if (before.secrets[name]) throw secretExists(name);
  const value = await readSecretValue(ctx, name, flags);
  const keystore = await openKeystore(ctx, before, flags, { stdinTaken: valueFromStdin(ctx, flags) });
  const vaultKey = await obtainVaultKey(before, keystore, { create: true, vaultFile: ctx.paths.vault });
  // Lock order everywhere: config, then vault. The config lock makes the
  // existence check and both writes one step against a concurrent add.
  const { config } = await updateConfig(ctx.paths, async (config) => {
    if (config.secrets[name]) throw secretExists(name);
    await storeValue(ctx, config, vaultKey.key, name, value, new Date());
    config.secrets[name] = record;
  });
  value.fill(0);
  await recordEvents(ctx, config, [{ kind: 'secret.add', actor: ctx.actor, data: describeBinding(record) }], keystore);
  const view = toView(config, record);
  return { data: { secret: view }, render: (style) => `${style.green('Added secret')} ${name} (value encrypted in ${ctx.paths.vault})\n${renderSecret(view, style)}` };
}

/** Encrypts `value` into the vault; called under the config lock (lock order: config, then vault). */
async function storeValue(ctx: Context, config: Config, key: Buffer, name: string, value: Buffer, now: Date): Promise<void> {
  await updateVault(ctx.paths.vault, ctx.paths.owner, (vault) => {
    vault.values[name] = encryptValue(key, name, value, now);
  });
  recordKeystoreEntry(config, entryName.vaultKey);
}

function secretExists(name: string): AgentAuthError {
  return usageError('SECRET_EXISTS', `secret "${name}" already exists`, { hint: `change its value with: agentauth secret rotate ${name}; change its binding with: agentauth secret rm ${name} then add it again` });
}

export async function rotateSecretCommand(ctx: Context, name: string, flags: SecretValueFlags): Promise<CommandResult> {
  const before = loadConfig(ctx);
  findSecret(before, name);
  const value = await readSecretValue(ctx, name, flags);
  const keystore = await openKeystore(ctx, before, flags, { stdinTaken: valueFromStdin(ctx, flags) });
  const vaultKey = await obtainVaultKey(before, keystore, { create: true, vaultFile: ctx.paths.vault });
  const now = new Date();
  const { config, result: record } = await updateConfig(ctx.paths, async (config) => {
    const record = findSecret(config, name);
    await storeValue(ctx, config, vaultKey.key, name, value, now);
    record.rotatedAt = now.toISOString();
    // The placeholder is derived from this count: a rotation gives every agent a new one.
    record.rotation = (record.rotation ?? 0) + 1;
    return record;
  });
  value.fill(0);
  await recordEvents(ctx, config, [{ kind: 'secret.rotate', actor: ctx.actor, data: { secret: name } }], keystore);
  return { data: { secret: toView(config, record) }, render: (style) => `${style.green('Rotated secret')} ${name}: runs started from now on use the new value, and a new placeholder` };
}

export async function removeSecretCommand(ctx: Context, name: string): Promise<CommandResult> {
  validateName(name, 'secret');
  const { config, result } = await updateConfig(ctx.paths, async (config) => {
    const removed = removeSecret(config, name, new Date());
    await updateVault(ctx.paths.vault, ctx.paths.owner, (vault) => {
      delete vault.values[name];
    });
    return removed;
  });
  await recordEvents(ctx, config, [{ kind: 'secret.remove', actor: ctx.actor, data: { secret: name, revoked_from: result.revokedFrom } }]);
  return {
    data: { secret: name, revokedFrom: result.revokedFrom },
    render: (style) =>
      `${style.green('Removed secret')} ${name}${result.revokedFrom.length ? ` and its grants to ${result.revokedFrom.join(', ')}` : ''}`,
  };
}

export async function listSecretsCommand(ctx: Context, opts: { names?: boolean }): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const views = Object.values(config.secrets)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((record) => toView(config, record));
  if (opts.names) return { data: { secrets: views.map((view) => view.name) }, render: () => views.map((view) => view.name).join('\n') };
  return { data: { secrets: views }, render: (style) => renderSecretList(views, style) };
}

function toView(config: Config, record: SecretRecord): SecretView {
  const grants = Object.values(config.agents)
    .flatMap((agent) => agent.grants.filter((grant) => grant.secret === record.name).map((grant) => ({ agent: agent.name, ...(grant.methods ? { methods: grant.methods } : {}), ...(grant.paths ? { paths: grant.paths } : {}) })))
    .sort((a, b) => a.agent.localeCompare(b.agent));
  return {
    name: record.name,
    hosts: record.hosts,
    ...(record.pathPrefix !== undefined ? { path: record.pathPrefix } : {}),
    ...(record.methods ? { methods: record.methods } : {}),
    placements: record.placements,
    ...(record.env !== undefined ? { env: record.env } : {}),
    ...(record.baseUrlEnv !== undefined ? { baseUrlEnv: record.baseUrlEnv } : {}),
    ...(record.preset !== undefined ? { preset: record.preset } : {}),
    createdAt: record.createdAt,
    ...(record.rotatedAt !== undefined ? { rotatedAt: record.rotatedAt } : {}),
    grants,
  };
}
