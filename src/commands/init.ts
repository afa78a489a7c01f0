// `init`, `status` and `doctor`.
import { existsSync, statSync } from 'node:fs';
import type { BackendName, Config } from '../core/config.js';
import { readConfig, requireConfig, writeConfig } from '../core/config.js';
import { keystoreError, usageError } from '../core/errors.js';
import { ensurePrivateDir } from '../core/fs-safe.js';
import { findActiveKey } from '../core/issuer.js';
import { defaultIssuer, planInstall, validateIssuer } from '../core/install.js';
import { openKeystore as openBackend } from '../core/keystore/index.js';
import { withFileLock } from '../core/lock.js';
import { createLogKey } from '../core/audit/log-key.js';
import { renderInit, renderStatus } from '../ui/render-core.js';
import { recordEvents } from './audit-events.js';
import { createPassphraseSource, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { describeSandbox } from './sandbox-status.js';
import { checkKeystoreEntries } from './keystore-check.js';

interface InitOptions extends KeystoreFlags {
  backend?: 'keychain' | 'file';
  issuer?: string;
  yes?: boolean;
}

export async function initCommand(ctx: Context, opts: InitOptions): Promise<CommandResult> {
  const issuer = opts.issuer ?? defaultIssuer();
  const issuerProblem = validateIssuer(issuer);
  if (issuerProblem) throw usageError('BAD_ISSUER', `invalid --issuer ${JSON.stringify(issuer)}: ${issuerProblem}`);
  if (readConfig(ctx.paths)) {
    throw usageError('ALREADY_INITIALISED', `agentauth is already initialised (${ctx.paths.config})`, {
      hint: 'see it with: agentauth status. To start over, move that folder away first; init never overwrites keys',
    });
  }
  const backend = await chooseBackend(ctx, opts);
  for (const dir of [ctx.paths.configDir, ctx.paths.dataDir, ctx.paths.stateDir]) ensurePrivateDir(dir);

  const now = new Date();
  const config = await withFileLock(ctx.paths.config, async () => {
    // Re-check under the lock: two concurrent inits must not both create keys.
    if (readConfig(ctx.paths)) throw usageError('ALREADY_INITIALISED', `agentauth is already initialised (${ctx.paths.config})`);
    const plan = await planInstall({ backend, issuer, now, createLogKey });
    const keystore = await openBackend({ backend, installId: plan.config.installId, paths: ctx.paths, passphrase: createPassphraseSource(ctx, opts), env: ctx.env });
    await keystore.setMany(plan.keystoreEntries);
    writeConfig(ctx.paths, plan.config);
    await recordEvents(
      ctx,
      plan.config,
      [
        { kind: 'log.init', actor: ctx.actor, data: { origin: plan.config.log.origin, vkey: plan.config.log.vkey } },
        { kind: 'key.create', actor: ctx.actor, data: { kid: plan.config.keys[0]!.kid, alg: 'EdDSA', backend } },
      ],
      keystore,
    );
    return plan.config;
  });

  const data = {
    backend,
    issuer: config.issuer,
    kid: findActiveKey(config).kid,
    installId: config.installId,
    log: config.log,
    paths: pathsOf(ctx, backend),
  };
  return { data, render: (style) => renderInit(data, style) };
}

async function chooseBackend(ctx: Context, opts: InitOptions): Promise<BackendName> {
  const requested = opts.backend ?? ctx.env['AGENTAUTH_BACKEND'];
  if (requested !== undefined && requested !== 'keychain' && requested !== 'file') {
    throw usageError('BAD_BACKEND', `unknown backend ${JSON.stringify(requested)} (AGENTAUTH_BACKEND): use keychain or file`);
  }
  if (requested === 'file') return 'file';
  const { probeKeychain } = await import('../core/keystore/keychain.js');
  const probe = probeKeychain(ctx.env);
  if (probe.ok) return 'keychain';
  if (requested === 'keychain') {
    throw keystoreError('KEYCHAIN_UNAVAILABLE', `the keychain does not answer: ${probe.reason}`, { hint: probe.hint });
  }
  ctx.info(`No OS keychain answered (${probe.reason}).`);
  if (ctx.interactive && !opts.yes) {
    const { promptConfirm, standardTerminal } = await import('../ui/prompts.js');
    if (!(await promptConfirm(`Keep the keys in an encrypted file (${ctx.paths.keystore}) instead?`, standardTerminal(ctx)))) {
      throw keystoreError('NO_BACKEND', 'no keystore backend chosen', { hint: probe.hint });
    }
    return 'file';
  }
  ctx.info(`Using the encrypted file backend: ${ctx.paths.keystore}`);
  return 'file';
}

function pathsOf(ctx: Context, backend: BackendName) {
  return {
    config: ctx.paths.config,
    ...(backend === 'file' ? { keystore: ctx.paths.keystore } : {}),
    auditLog: ctx.paths.auditLog,
  };
}

export interface FileCheck {
  path: string;
  exists: boolean;
  mode?: string;
  ok: boolean;
  fix?: string;
}

function checkFile(path: string, expectedMode: number): FileCheck {
  if (!existsSync(path)) return { path, exists: false, ok: true };
  const mode = statSync(path).mode & 0o777;
  const ok = (mode & 0o077) === 0;
  return { path, exists: true, mode: mode.toString(8).padStart(3, '0'), ok, ...(ok ? {} : { fix: `chmod ${expectedMode.toString(8)} '${path}'` }) };
}

/** The modes of the install's folder and private files (status and doctor). */
export function checkInstallFiles(ctx: Context, config: Config): FileCheck[] {
  return [
    checkFile(ctx.paths.configDir, 0o700),
    checkFile(ctx.paths.config, 0o600),
    ...(config.backend === 'file' ? [checkFile(ctx.paths.keystore, 0o600)] : []),
    checkFile(ctx.paths.vault, 0o600),
    checkFile(ctx.paths.auditLog, 0o600),
  ];
}

export async function statusCommand(ctx: Context, _opts: { json?: boolean }): Promise<CommandResult> {
  const config = requireConfig(ctx.paths);
  const files = checkInstallFiles(ctx, config);
  const keystore = await checkKeystoreEntries(ctx, config);
  const data = {
    initialised: true,
    backend: config.backend,
    persistence: describePersistence(config),
    issuer: config.issuer,
    activeKid: findActiveKey(config).kid,
    keys: config.keys.length,
    agents: Object.keys(config.agents).length,
    secrets: Object.keys(config.secrets).length,
    log: { origin: config.log.origin, vkey: config.log.vkey, path: ctx.paths.auditLog },
    serve: await (await import('./serve-probe.js')).probeServe(ctx),
    files,
    keystore,
    sandbox: await describeSandbox(ctx, config),
  };
  const outcome = !keystore.ok ? 'keystore' : files.every((file) => file.ok) ? 'ok' : 'checkFailed';
  return { data, render: (style) => renderStatus(data, style), outcome };
}

function describePersistence(config: Config): string {
  switch (config.backend) {
    case 'keychain':
      return process.platform === 'linux' ? 'OS keychain (Secret Service); survives reboots' : 'OS keychain; survives reboots';
    case 'file':
      return 'encrypted file (PBES2 + A256GCM); survives reboots; needs the passphrase';
    case 'memory':
      return 'memory only; lost when the process exits (tests)';
  }
}
