// Finding a command the way execvp(3) does, before handing it to a sandbox:
// inside, the sandbox's helper would report a missing or non-executable
// command with an exit status of its own, which could not be told apart from
// the command's. Found here, `run` answers 127 or 126 itself, as it does
// without a sandbox.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export type Lookup = { ok: true; path: string } | { ok: false; code: 'ENOENT' | 'EACCES' };

/**
 * A name with a slash is taken as a path (relative to `cwd`); otherwise each
 * PATH entry is tried in order (an empty entry is the working directory). As
 * with execvp, a match that is not an executable file is skipped, and the
 * answer is EACCES rather than ENOENT when only such matches were found.
 */
export function findExecutable(file: string, pathVariable: string | undefined, cwd: string): Lookup {
  if (file.includes('/')) return check(resolve(cwd, file)) ?? { ok: false, code: 'ENOENT' };
  let denied = false;
  for (const dir of (pathVariable ?? '').split(delimiter)) {
    const found = check(join(dir === '' ? cwd : resolve(cwd, dir), file));
    if (found?.ok) return found;
    if (found) denied = true;
  }
  return { ok: false, code: denied ? 'EACCES' : 'ENOENT' };
}

/** null when nothing is there; EACCES when something is, but cannot be executed. */
function check(path: string): Lookup | null {
  try {
    if (!statSync(path).isFile()) return { ok: false, code: 'EACCES' };
  } catch {
    return null;
  }
  try {
    accessSync(path, constants.X_OK);
    return { ok: true, path };
  } catch {
    return { ok: false, code: 'EACCES' };
  }
}
