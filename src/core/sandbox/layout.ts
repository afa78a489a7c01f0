// From a plan (path names) to a layout (what to mount where), looking at the
// file system: symbolic links are followed to the real path (a mount on a
// link lands on its target, and the target is what must be hidden), missing
// paths are dropped (a mount point would have to be created on the real file
// system: a file where agentauth later expects none), and entries that a
// hidden folder already covers are dropped (nothing can be mounted inside an
// empty read-only folder, and nothing there is visible anyway).
import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { childStartError } from '../errors.js';
import { isInside, type SandboxPlan } from './plan.js';

export interface Mask {
  path: string;
  type: 'dir' | 'file';
  /** An empty folder the child may write to (its own, gone when it exits). */
  private: boolean;
}

export interface SandboxLayout {
  /** Replaced by an empty private folder; `keep` is bound back into it. */
  runtimeDir: string | null;
  keep: string[];
  readOnly: string[];
  /** Applied in order, after everything else: the user's hide list, then agentauth's own. */
  masks: Mask[];
}

interface Found {
  path: string;
  type: 'dir' | 'file';
}

/** The real path and its type, or null when nothing is there. */
function findReal(path: string): Found | null {
  try {
    const real = realpathSync.native(path);
    return { path: real, type: statSync(real).isDirectory() ? 'dir' : 'file' };
  } catch {
    return null;
  }
}

/**
 * The real path of `path` whether or not it exists: the nearest existing
 * ancestor resolved, the rest appended (sandbox-exec's rules may name paths
 * that do not exist yet, and must name them as the kernel sees them).
 */
export function resolveCanonicalPath(path: string): string {
  const found = findReal(path);
  if (found) return found.path;
  const parent = dirname(path);
  return parent === path ? path : join(resolveCanonicalPath(parent), basename(path));
}

export function resolveLayout(plan: SandboxPlan, cwd: string): SandboxLayout {
  const masks: Mask[] = [];
  for (const [path, isPrivate] of [...plan.hide.map((p) => [p, false] as const), ...plan.protect.map((p) => [p.path, p.private === true] as const)]) {
    const found = findReal(path);
    if (found && !masks.some((mask) => mask.path === found.path)) masks.push({ ...found, private: isPrivate && found.type === 'dir' });
  }
  const hiddenDirs = masks.filter((mask) => mask.type === 'dir').map((mask) => mask.path);
  const underHidden = (path: string) => hiddenDirs.some((dir) => path !== dir && isInside(path, dir));

  const runtime = plan.runtimeDir ? findReal(plan.runtimeDir.path) : null;
  const runtimeDir = runtime && runtime.type === 'dir' && !underHidden(runtime.path) && !hiddenDirs.includes(runtime.path) ? runtime.path : null;
  const keep = runtimeDir ? dedupePaths((plan.runtimeDir?.keep ?? []).map(findReal).flatMap((f) => (f && isInside(f.path, runtimeDir) && !underHidden(f.path) ? [f.path] : []))) : [];
  const readOnly = dedupePaths(plan.readOnly.map(findReal).flatMap((f) => (f && !underHidden(f.path) && !hiddenDirs.includes(f.path) ? [f.path] : [])));

  // Inside the fresh runtime folder a mask is needed only where something
  // brings the real content back (a kept entry, a --sandbox-ro path).
  const exposed = (path: string) => !runtimeDir || !isInside(path, runtimeDir) || [...keep, ...readOnly].some((shown) => isInside(path, shown));
  const kept = masks.filter((mask) => !underHidden(mask.path) && exposed(mask.path));

  const hidingCwd = kept.find((mask) => mask.type === 'dir' && isInside(cwd, mask.path));
  if (hidingCwd) {
    throw childStartError('SANDBOX_HIDES_CWD', `the working directory ${cwd} is inside ${hidingCwd.path}, which the sandbox hides`, {
      hint: 'run the command from another directory',
    });
  }
  return { runtimeDir, keep, readOnly, masks: kept };
}

function dedupePaths(paths: string[]): string[] {
  return [...new Set(paths)];
}
