// Does a sandbox work here? Tried for real, not guessed: on Linux a trial
// bwrap run with the namespaces and mounts `run` uses (~10 ms; `run` starts
// it alongside its own set-up). `doctor`, `status` and `run` share it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { diagnoseBwrapFailure, describeMissingSandbox, parseBwrapVersion, type SandboxSupport, type UsernsSysctls } from '../core/sandbox/detect.js';
import { findExecutable } from '../core/sandbox/find-executable.js';
import type { Env } from '../core/paths.js';

const PROBE_TIMEOUT_MS = 5000;

/** `withVersion`: also ask bwrap its version (doctor and status show it; run does not need it). */
export async function probeSandbox(env: Env, options: { withVersion?: boolean } = {}, platform: NodeJS.Platform = process.platform): Promise<SandboxSupport> {
  const cwd = process.cwd();
  if (platform === 'linux') {
    const bwrap = findExecutable('bwrap', env['PATH'], cwd);
    if (!bwrap.ok) return { ok: false, ...describeMissingSandbox(platform) };
    const envBinary = existsSync('/usr/bin/env') ? '/usr/bin/env' : findExecutable('env', env['PATH'], cwd);
    const envPath = typeof envBinary === 'string' ? envBinary : envBinary.ok ? envBinary.path : null;
    if (envPath === null) return { ok: false, reason: 'no env program on PATH', fix: 'install GNU coreutils' };
    // One trial run, as `run` uses bwrap (PID namespace, /proc, a private
    // folder with --perms, env resetting the signals inside). A bubblewrap
    // older than 0.5 rejects --perms: then it is tried once more without.
    const trial = (perms: boolean) =>
      runQuietly(bwrap.path, ['--dev-bind', '/', '/', '--proc', '/proc', ...(perms ? ['--perms', '0700'] : []), '--tmpfs', '/tmp', '--unshare-pid', '--die-with-parent', '--', envPath, '--default-signal', '--', 'true'], env);
    const version = options.withVersion ? runQuietly(bwrap.path, ['--version'], env) : null;
    let result = await trial(true);
    let perms = true;
    if (result.code !== 0 && /--perms/.test(result.stderr)) {
      perms = false;
      result = await trial(false);
    }
    if (result.code !== 0) return { ok: false, ...diagnoseBwrapFailure(result.stderr, readUsernsSysctls(), process.getuid?.() ?? -1) };
    return { ok: true, kind: 'bwrap', binary: bwrap.path, env: envPath, perms, ...(version ? { version: parseBwrapVersion((await version).stdout) } : {}) };
  }
  if (platform === 'darwin') {
    const found = findExecutable('sandbox-exec', env['PATH'], cwd);
    if (!found.ok) return { ok: false, ...describeMissingSandbox(platform) };
    const trial = await runQuietly(found.path, ['-p', '(version 1)(allow default)', '/usr/bin/true'], env);
    if (trial.code !== 0) return { ok: false, reason: `sandbox-exec failed: ${trial.stderr.trim() || `exit ${trial.code}`}`, fix: 'run with --no-sandbox, and report it' };
    return { ok: true, kind: 'sandbox-exec', binary: found.path };
  }
  return { ok: false, ...describeMissingSandbox(platform) };
}

function readUsernsSysctls(): UsernsSysctls {
  const sysctls: UsernsSysctls = {};
  for (const name of ['kernel.unprivileged_userns_clone', 'user.max_user_namespaces', 'kernel.apparmor_restrict_unprivileged_userns'] as const) {
    try {
      sysctls[name] = readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
    } catch {
      // This kernel has no such switch.
    }
  }
  return sysctls;
}

function runQuietly(file: string, args: string[], env: Env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env as NodeJS.ProcessEnv, timeout: PROBE_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => resolve({ code: null, stdout, stderr: error.message }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
