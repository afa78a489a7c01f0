// The sandbox as `status` and `doctor` report it: does it work here, which
// mode the config asks for, and what it cannot hide.
import type { Config } from '../core/config.js';
import { planSandbox } from '../core/sandbox/plan.js';
import { FILTERED_ARCHES } from '../core/sandbox/seccomp.js';
import { readSettings } from '../core/settings.js';
import type { Context } from './context.js';
import { probeSandbox } from './sandbox-probe.js';

export interface SandboxStatus {
  available: boolean;
  kind?: 'bwrap' | 'sandbox-exec';
  version?: string;
  /** The config's run.sandbox (auto when unset). */
  mode: string;
  detail: string;
  reason?: string;
  fix?: string;
  /** What the sandbox could not hide here. */
  gaps: string[];
}

export async function describeSandbox(ctx: Context, config: Config | null): Promise<SandboxStatus> {
  let mode = 'auto';
  try {
    mode = (config && readSettings(config)['run.sandbox']) || 'auto';
  } catch (error) {
    mode = `invalid (${(error as Error).message})`;
  }
  const support = await probeSandbox(ctx.env, { withVersion: true });
  if (!support.ok) return { available: false, mode, detail: `not available: ${support.reason}`, reason: support.reason, fix: support.fix, gaps: [] };
  const { gaps } = planSandbox({ platform: process.platform, paths: ctx.paths, env: ctx.env, uid: ctx.uid ?? -1, cwd: process.cwd(), hide: [], readOnly: [] });
  if (support.kind === 'bwrap') {
    const seccomp = FILTERED_ARCHES.includes(process.arch) ? '' : `; no terminal-injection filter on ${process.arch}`;
    return { available: true, kind: 'bwrap', version: support.version ?? 'unknown', mode, detail: `bubblewrap ${support.version ?? ''} works (${support.binary})${seccomp}`, gaps };
  }
  return { available: true, kind: 'sandbox-exec', mode, detail: `sandbox-exec works (${support.binary}; the profile is untested on real macOS)`, gaps };
}
