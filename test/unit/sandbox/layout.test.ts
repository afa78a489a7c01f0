// Layout resolution against a real file system tree.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCanonicalPath, resolveLayout } from '../../../src/core/sandbox/layout.js';
import type { SandboxPlan } from '../../../src/core/sandbox/plan.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'aa-layout-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const at = (...parts: string[]) => join(root, ...parts);
for (const dir of ['aa/sub', 'home/.ssh', 'run/gnupg', 'run/keyring', 'run/other', 'work']) mkdirSync(at(dir), { recursive: true });
writeFileSync(at('pass'), 'x');
writeFileSync(at('run/bus'), '');
symlinkSync(at('pass'), at('pass-link'));

function plan(overrides: Partial<SandboxPlan> = {}): SandboxPlan {
  return { protect: [], hide: [], readOnly: [], runtimeDir: null, gaps: [], ...overrides };
}

describe('resolveLayout', () => {
  it('follows links to what must be hidden, and drops what does not exist', () => {
    const layout = resolveLayout(plan({ protect: [{ path: at('pass-link'), why: 'p' }, { path: at('missing'), why: 'm' }, { path: at('aa'), why: 'a' }] }), at('work'));
    expect(layout.masks).toEqual([
      { path: at('pass'), type: 'file', private: false },
      { path: at('aa'), type: 'dir', private: false },
    ]);
  });

  it("puts the user's hide list before agentauth's own, and drops what a hidden folder covers", () => {
    const layout = resolveLayout(plan({ hide: [at('home/.ssh'), at('aa/sub')], protect: [{ path: at('aa'), why: 'a' }, { path: at('aa/sub'), why: 'dup' }], readOnly: [at('aa'), at('home')] }), at('work'));
    expect(layout.masks.map((mask) => mask.path)).toEqual([at('home/.ssh'), at('aa')]);
    // A read-only request for a hidden folder is dropped: hidden wins; the rest stays.
    expect(layout.readOnly).toEqual([at('home')]);
  });

  it('in the runtime folder keeps what exists, and masks only what something brings back', () => {
    const runtime = { path: at('run'), keep: [at('run/gnupg'), at('run/gone')] };
    const protect = [{ path: at('run/bus'), why: 'bus' }, { path: at('run/keyring'), why: 'keyring' }];
    expect(resolveLayout(plan({ runtimeDir: runtime, protect }), at('work'))).toEqual({ runtimeDir: at('run'), keep: [at('run/gnupg')], readOnly: [], masks: [] });
    // --sandbox-ro of the whole folder brings everything back: then the bus and keyring masks are needed.
    const exposed = resolveLayout(plan({ runtimeDir: runtime, protect, readOnly: [at('run')] }), at('work'));
    expect(exposed.masks.map((mask) => mask.path)).toEqual([at('run/bus'), at('run/keyring')]);
  });

  it('refuses to start in a folder it hides', () => {
    expect(() => resolveLayout(plan({ protect: [{ path: at('aa'), why: 'a' }] }), at('aa/sub'))).toThrow(expect.objectContaining({ code: 'SANDBOX_HIDES_CWD', kind: 'childStart' }));
  });
});

describe('resolveCanonicalPath', () => {
  it('resolves the existing part of a path that does not exist yet', () => {
    expect(resolveCanonicalPath(at('pass-link'))).toBe(at('pass'));
    expect(resolveCanonicalPath(join(root, 'aa', '..', 'not', 'yet'))).toBe(at('not/yet'));
  });
});
