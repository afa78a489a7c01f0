import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findExecutable } from '../../../src/core/sandbox/find-executable.js';

const root = mkdtempSync(join(tmpdir(), 'aa-which-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const a = join(root, 'a');
const b = join(root, 'b');
mkdirSync(a);
mkdirSync(b);
mkdirSync(join(a, 'tool-dir'));
writeFileSync(join(a, 'tool'), '#!/bin/sh\n', { mode: 0o644 });
writeFileSync(join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
writeFileSync(join(a, 'plain'), 'x', { mode: 0o644 });
chmodSync(join(b, 'tool'), 0o755);

describe('findExecutable (as execvp)', () => {
  it('skips a non-executable match and takes the next one on PATH', () => {
    expect(findExecutable('tool', `${a}:${b}`, root)).toEqual({ ok: true, path: join(b, 'tool') });
  });

  it('EACCES when only non-executable matches exist (126), ENOENT when none (127)', () => {
    expect(findExecutable('plain', `${a}:${b}`, root)).toEqual({ ok: false, code: 'EACCES' });
    expect(findExecutable('tool-dir', a, root)).toEqual({ ok: false, code: 'EACCES' });
    expect(findExecutable('nothing', `${a}:${b}`, root)).toEqual({ ok: false, code: 'ENOENT' });
    expect(findExecutable('tool', undefined, root)).toEqual({ ok: false, code: 'ENOENT' });
  });

  it('a name with a slash is a path, relative to the working directory', () => {
    expect(findExecutable('b/tool', '', root)).toEqual({ ok: true, path: join(b, 'tool') });
    expect(findExecutable('./a/plain', '/usr/bin', root)).toEqual({ ok: false, code: 'EACCES' });
    expect(findExecutable('./a/none', '/usr/bin', root)).toEqual({ ok: false, code: 'ENOENT' });
  });
});
