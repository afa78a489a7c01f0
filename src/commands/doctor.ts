// `agentauth doctor`: what matters for this install's backend, each with the
// fix. A file-backend install is not told about a missing D-Bus (it does not
// use one); a keychain install reached over SSH is told how to reach a bus.
import { existsSync } from 'node:fs';
import { readConfig, type Config } from '../core/config.js';
import { readUserSecretFile } from '../core/fs-safe.js';
import { renderDoctor, type DoctorCheck } from '../ui/render-core.js';
import { createPassphraseSource, type Context, type KeystoreFlags } from './context.js';
import { checkInstallFiles } from './init.js';
import { checkKeystoreEntries } from './keystore-check.js';
import type { CommandResult } from './result.js';
import { describeSandbox } from './sandbox-status.js';
import { probeServe } from './serve-probe.js';

export async function doctorCommand(ctx: Context, flags: KeystoreFlags): Promise<CommandResult> {
  const config = readConfig(ctx.paths);
  const checks: DoctorCheck[] = [check('ok', 'platform', `${process.platform}/${process.arch}, Node ${process.versions.node}`)];
  let keychainUsable: boolean | null = null;
  if (config?.backend === 'file') {
    checks.push(check('ok', 'backend', `file: ${ctx.paths.keystore} (PBES2 + A256GCM), needs the passphrase`));
    checks.push(describePassphraseSource(ctx, flags));
    checks.push(check('info', 'keychain', 'not used (file backend): no D-Bus or Secret Service needed'));
  } else {
    const keychain = await describeKeychain(ctx, config);
    keychainUsable = keychain.usable;
    checks.push(...keychain.checks);
  }
  if (config) {
    checks.push(...describeFiles(ctx, config));
    checks.push(await describeKeys(ctx, config, flags));
  }
  checks.push(await describeSandboxCheck(ctx, config));
  checks.push(await describeServe(ctx));
  const failed = checks.some((item) => item.status === 'fail');
  const data = { backend: config?.backend ?? null, keychainUsable, ok: !failed, checks };
  // Exit 4 for what stops the install from working (its keystore); a failed check that does not (a loose mode, the sandbox) is 1.
  const keystoreBroken = checks.some((item) => item.status === 'fail' && (item.name === 'keys' || item.name === 'keychain' || item.name === 'D-Bus session bus' || item.name === 'passphrase'));
  const outcome = !config ? 'ok' : keystoreBroken ? 'keystore' : failed ? 'checkFailed' : 'ok';
  return { data, render: (style) => renderDoctor(data, style), outcome };
}

/** serve is optional: up or not, it is information, never a failure. */
async function describeServe(ctx: Context): Promise<DoctorCheck> {
  const serve = await probeServe(ctx);
  if (serve.up) {
    const where = [`socket ${serve.socket}`, ...(serve.http ? [`HTTP ${serve.http}`] : []), ...(serve.pid !== undefined ? [`pid ${serve.pid}`] : [])].join(', ');
    return check('ok', 'serve', `up: ${where}; token mint goes through it`);
  }
  const note = serve.note ? ` (${serve.note})` : '';
  return check('info', 'serve', `not running${note}: each token mint unlocks the keystore itself`, 'agentauth serve (docs/serve.md has a systemd unit)');
}

function check(status: DoctorCheck['status'], name: string, detail: string, fix?: string): DoctorCheck {
  return { name, status, ok: status !== 'fail', detail, ...(fix ? { fix } : {}) };
}

async function describeKeychain(ctx: Context, config: Config | null): Promise<{ usable: boolean; checks: DoctorCheck[] }> {
  const { probeKeychain } = await import('../core/keystore/keychain.js');
  const probe = probeKeychain(ctx.env);
  const checks: DoctorCheck[] = [];
  // Before init, a keychain that does not answer only means init would pick the file backend.
  const missingLevel = config ? 'fail' : 'info';
  if (process.platform === 'linux') {
    const bus = ctx.env['DBUS_SESSION_BUS_ADDRESS'];
    checks.push(bus ? check('ok', 'D-Bus session bus', 'DBUS_SESSION_BUS_ADDRESS is set') : check(missingLevel, 'D-Bus session bus', describeMissingBus(ctx), config ? reachBusFix(ctx) : undefined));
  }
  checks.push(probe.ok ? check('ok', 'keychain', 'a test entry was written, read back and deleted') : check(config ? 'fail' : 'info', 'keychain', probe.reason, probe.hint));
  checks.push(
    config
      ? check(probe.ok ? 'ok' : 'fail', 'backend', 'keychain (the OS credential store)', probe.ok ? undefined : 'unlock the keychain as above, or move the keys to a file: agentauth migrate --to file')
      : check('info', 'backend', `not initialised yet; init would use ${probe.ok ? 'the keychain' : 'an encrypted file (agentauth init --backend file)'}`),
  );
  return { usable: probe.ok, checks };
}

function describeMissingBus(ctx: Context): string {
  return ctx.env['SSH_CONNECTION'] ? 'DBUS_SESSION_BUS_ADDRESS is not set: an SSH login has no session bus of its own' : 'DBUS_SESSION_BUS_ADDRESS is not set (headless or SSH session)';
}

/** How to reach a Secret Service from a shell without a session bus (checked with gnome-keyring). */
function reachBusFix(ctx: Context): string {
  const runtime = ctx.env['XDG_RUNTIME_DIR'];
  if (runtime && existsSync(`${runtime}/bus`)) return `your user's bus is running: export DBUS_SESSION_BUS_ADDRESS=unix:path=${runtime}/bus (then unlock the keyring if it is locked)`;
  return 'start a bus for this shell, then unlock the keyring in it: dbus-run-session -- bash; then: read -rs P && printf %s "$P" | gnome-keyring-daemon --unlock --components=secrets. Or move the keys to a file: agentauth migrate --to file';
}

/** Which passphrase source a command would use here, and whether it is safe. */
function describePassphraseSource(ctx: Context, flags: KeystoreFlags): DoctorCheck {
  const fromFlag = flags.passphraseFile;
  const file = fromFlag ?? ctx.env['AGENTAUTH_PASSPHRASE_FILE'];
  const label = fromFlag ? '--passphrase-file' : 'AGENTAUTH_PASSPHRASE_FILE';
  if (file) {
    try {
      if (readUserSecretFile(file, ctx.paths.owner) === null) return check('fail', 'passphrase', `${label} names ${file}, which does not exist`, 'check the path');
    } catch (error) {
      const hint = (error as { hint?: string }).hint;
      return check('fail', 'passphrase', `${label}=${file}: ${(error as Error).message}`, hint);
    }
    return check('ok', 'passphrase', `from ${label} (${file}, mode 600)`);
  }
  if (flags.passphraseStdin) return check('ok', 'passphrase', 'from stdin (--passphrase-stdin)');
  if (ctx.env['AGENTAUTH_PASSPHRASE']) return check('info', 'passphrase', 'from AGENTAUTH_PASSPHRASE (a file, AGENTAUTH_PASSPHRASE_FILE, keeps it out of the environment of every child)');
  return check(
    'info',
    'passphrase',
    'none set: commands that need the keys ask at a terminal, and fail in scripts and services',
    'for scripts and services, keep it in a file only you can read and export AGENTAUTH_PASSPHRASE_FILE=FILE (systemd: LoadCredential=)',
  );
}

function describeFiles(ctx: Context, config: Config): DoctorCheck[] {
  const files = checkInstallFiles(ctx, config);
  const loose = files.filter((file) => !file.ok);
  if (loose.length > 0) return loose.map((file) => check('fail', 'file modes', `${file.path} is ${file.mode}: other users can read it`, file.fix));
  const present = files.filter((file) => file.exists);
  return [check('ok', 'file modes', present.map((file, i) => `${i === 0 ? file.path : file.path.split('/').pop()} ${file.mode}`).join(', '))];
}

async function describeKeys(ctx: Context, config: Config, flags: KeystoreFlags): Promise<DoctorCheck> {
  // The file keystore is opened only with a passphrase given without a prompt: doctor never asks.
  const atHand = Boolean(flags.passphraseFile || flags.passphraseStdin || ctx.env['AGENTAUTH_PASSPHRASE_FILE'] || ctx.env['AGENTAUTH_PASSPHRASE']);
  const result = await checkKeystoreEntries(ctx, config, config.backend === 'file' && atHand ? createPassphraseSource(ctx, flags) : undefined);
  if (!result.ok) return check('fail', 'keys', result.detail, result.fix);
  return check(result.checked ? 'ok' : 'info', 'keys', result.checked ? result.detail : `${result.detail}; give the passphrase (AGENTAUTH_PASSPHRASE_FILE or --passphrase-file) to check them`);
}

async function describeSandboxCheck(ctx: Context, config: Config | null): Promise<DoctorCheck> {
  const sandbox = await describeSandbox(ctx, config);
  if (sandbox.available) {
    const detail = `${sandbox.detail}; run sandboxes its child (mode ${sandbox.mode})${sandbox.gaps.map((gap) => `; but ${gap}`).join('')}`;
    return check(sandbox.gaps.length === 0 ? 'ok' : 'fail', 'sandbox', detail, sandbox.gaps.length ? 'make the session bus listen on a socket file (unix:path=…), as systemd user sessions do' : undefined);
  }
  return check(sandbox.mode === 'off' ? 'ok' : 'fail', 'sandbox', `${sandbox.detail} (mode ${sandbox.mode})`, sandbox.fix);
}
