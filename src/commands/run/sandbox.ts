// `run`'s sandbox decision: which mode applies (flag, config, default auto),
// whether this machine can sandbox, what the child must not reach, and the
// spawn function that puts it all together.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../core/config.js';
import { childStartError } from '../../core/errors.js';
import { buildMacProfile } from '../../core/sandbox/macos-profile.js';
import { resolveCanonicalPath, resolveLayout } from '../../core/sandbox/layout.js';
import { isInside, planSandbox } from '../../core/sandbox/plan.js';
import type { SandboxMode, SandboxSupport } from '../../core/sandbox/detect.js';
import { readSettings } from '../../core/settings.js';
import type { Context } from '../context.js';
import { probeSandbox } from '../sandbox-probe.js';
import { spawnDirect, spawnInBwrap, spawnInSandboxExec, type RunningChild } from './spawn-child.js';

export interface SandboxFlags {
  /** --sandbox (true) or --no-sandbox (false); absent: the config's run.sandbox, else auto. */
  sandbox?: boolean;
  sandboxHide?: string[];
  sandboxRo?: string[];
  passphraseFile?: string;
}

export interface SandboxDecision {
  /** The `sandbox` field of run.start and run.end, and why there is none. */
  audit: { sandbox: 'bwrap' | 'sandbox-exec' | 'none'; sandbox_reason?: string };
  spawn(file: string, args: string[], env: Record<string, string>): Promise<RunningChild>;
  /** Whether the child cannot read `path` (inside a hidden or protected one). */
  hides(path: string): boolean;
}

/** Started before run's own set-up, so that the trial bwrap run overlaps it. Null with --no-sandbox. */
export function startSandboxProbe(ctx: Context, flags: SandboxFlags): Promise<SandboxSupport> | null {
  if (flags.sandbox === false) return null;
  const probe = probeSandbox(ctx.env);
  probe.catch(() => {});
  return probe;
}

export async function decideSandbox(ctx: Context, config: Config, flags: SandboxFlags, probe: Promise<SandboxSupport> | null): Promise<SandboxDecision> {
  const settings = readSettings(config);
  const mode: SandboxMode = flags.sandbox === true ? 'required' : flags.sandbox === false ? 'off' : (settings['run.sandbox'] ?? 'auto');
  if (mode === 'off') return decideUnsandboxed(flags.sandbox === false ? 'turned off (--no-sandbox)' : 'turned off (config run.sandbox off)');

  const support = await (probe ?? probeSandbox(ctx.env));
  if (!support.ok) {
    if (mode === 'required') {
      throw childStartError('SANDBOX_UNAVAILABLE', `the child cannot be sandboxed: ${support.reason}`, { hint: `${support.fix}; or run with --no-sandbox` });
    }
    ctx.warn(`the child is not sandboxed: ${support.reason}; fix: ${support.fix}; or pass --no-sandbox to run without one knowingly`);
    return decideUnsandboxed(support.reason);
  }

  const cwd = process.cwd();
  const plan = planSandbox({
    platform: process.platform,
    paths: ctx.paths,
    env: ctx.env,
    ...(flags.passphraseFile !== undefined ? { passphraseFile: flags.passphraseFile } : {}),
    uid: ctx.uid ?? -1,
    cwd,
    hide: [...(settings['run.sandbox-hide'] ?? []), ...(flags.sandboxHide ?? [])],
    readOnly: [...(settings['run.sandbox-ro'] ?? []), ...(flags.sandboxRo ?? [])],
    busSockets: findBusSockets(),
  });
  for (const gap of plan.gaps) {
    if (mode === 'required') throw childStartError('SANDBOX_INCOMPLETE', `the sandbox would be incomplete: ${gap}`, { hint: 'make the session bus listen on a socket file (unix:path=…, as systemd user sessions do), or run with --no-sandbox' });
    ctx.warn(`the sandbox is incomplete: ${gap}`);
  }

  const hidden = [...plan.hide, ...plan.protect.map((entry) => entry.path)];
  const hides = (path: string) => hidden.some((parent) => isInside(path, parent));
  if (support.kind === 'bwrap') {
    const layout = resolveLayout(plan, cwd);
    const options = { bwrap: support.binary, envBinary: support.env, perms: support.perms, layout, cwd };
    return { audit: { sandbox: 'bwrap' }, spawn: (file, args, env) => spawnInBwrap(options, file, args, env), hides };
  }
  const profile = buildMacProfile({
    hide: [...plan.hide, ...plan.protect.map((entry) => entry.path)].map(resolveCanonicalPath),
    readOnly: plan.readOnly.map(resolveCanonicalPath),
  });
  return { audit: { sandbox: 'sandbox-exec' }, spawn: (file, args, env) => spawnInSandboxExec(support.binary, profile, file, args, env), hides };
}

/** dbus-daemon's sockets in /tmp (`dbus-XXXXXXXXXX`), as dbus-launch and dbus-run-session make them. */
function findBusSockets(): string[] {
  try {
    return readdirSync('/tmp', { withFileTypes: true })
      .filter((entry) => entry.name.startsWith('dbus-') && entry.isSocket())
      .map((entry) => join('/tmp', entry.name));
  } catch {
    return [];
  }
}

function decideUnsandboxed(reason: string): SandboxDecision {
  return { audit: { sandbox: 'none', sandbox_reason: reason }, spawn: spawnDirect, hides: () => false };
}
