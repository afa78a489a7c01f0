// Private files and folders: never through a symbolic link, never trusted
// when someone else could have written them.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertPrivateDir, openOwnFileForAppend, readPrivateFile, readUserSecretFile, writeFileAtomic } from '../../src/core/fs-safe.js';

const me = process.getuid?.();
let dir: string;
let victim: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aa-fs-safe-'));
  victim = join(dir, 'victim');
  writeFileSync(victim, 'keep\n', { mode: 0o600 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('private files', () => {
  it('are not read or appended to through a symbolic link', () => {
    const link = join(dir, 'link');
    symlinkSync(victim, link);
    expect(() => readPrivateFile(link, me)).toThrow(expect.objectContaining({ code: 'SYMLINK_REFUSED', kind: 'keystore' }));
    expect(() => openOwnFileForAppend(link)).toThrow(expect.objectContaining({ code: 'SYMLINK_REFUSED' }));
    expect(readFileSync(victim, 'utf8')).toBe('keep\n');
  });

  it('an atomic write replaces a link planted at its place instead of writing through it', () => {
    const target = join(dir, 'config.json');
    symlinkSync(victim, target);
    writeFileAtomic(target, 'new\n');
    expect(readFileSync(victim, 'utf8')).toBe('keep\n');
    expect(readFileSync(target, 'utf8')).toBe('new\n');
  });

  it('an atomic write gives the file exactly the mode asked for, whatever the umask', () => {
    const previous = process.umask(0o077);
    try {
      writeFileAtomic(join(dir, 'ca.pem'), 'public\n', { mode: 0o644 });
      writeFileAtomic(join(dir, 'private'), 'secret\n');
    } finally {
      process.umask(previous);
    }
    expect(statSync(join(dir, 'ca.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'private')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('are refused when others can read them or they belong to someone else, naming the fix', () => {
    const file = join(dir, 'secret');
    writeFileSync(file, 'x', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => readPrivateFile(file, me)).toThrow(expect.objectContaining({ code: 'INSECURE_PERMISSIONS', hint: `chmod 600 '${file}'` }));
    expect(() => readUserSecretFile(file, me)).toThrow(expect.objectContaining({ code: 'INSECURE_PERMISSIONS' }));
    chmodSync(file, 0o600);
    expect(readPrivateFile(file, me)?.toString()).toBe('x');
    // The owner is handed in: a file of this user is someone else's to a process told another uid.
    expect(() => readPrivateFile(file, (me ?? 0) + 1)).toThrow(expect.objectContaining({ code: 'INSECURE_OWNER' }));
    expect(() => readUserSecretFile(file, (me ?? 0) + 1)).toThrow(expect.objectContaining({ code: 'INSECURE_OWNER' }));
    if (me === 0) {
      chownSync(file, 65534, 65534);
      expect(() => readPrivateFile(file, me)).toThrow(expect.objectContaining({ code: 'INSECURE_OWNER' }));
    }
  });

  it('a passphrase file may be a link the user made, to a private file', () => {
    const link = join(dir, 'pass-link');
    symlinkSync(victim, link);
    expect(readUserSecretFile(link, me)?.toString()).toBe('keep\n');
    expect(readUserSecretFile(join(dir, 'missing'), me)).toBeNull();
  });
});

describe('private folders', () => {
  it('are refused when group- or world-writable, or under a folder every user can write to', () => {
    const home = join(dir, 'home');
    mkdirSync(home, { mode: 0o700 });
    expect(() => assertPrivateDir(home, me)).not.toThrow();
    expect(() => assertPrivateDir(home, (me ?? 0) + 1)).toThrow(expect.objectContaining({ code: 'INSECURE_OWNER' }));
    expect(() => assertPrivateDir(join(dir, 'missing'), me)).not.toThrow();
    for (const mode of [0o777, 0o775, 0o1777]) {
      chmodSync(home, mode);
      expect(() => assertPrivateDir(home, me), mode.toString(8)).toThrow(expect.objectContaining({ code: 'INSECURE_PERMISSIONS', hint: `chmod 700 '${home}'` }));
    }
    chmodSync(home, 0o700);
    chmodSync(dir, 0o777);
    expect(() => assertPrivateDir(home, me)).toThrow(expect.objectContaining({ code: 'INSECURE_PERMISSIONS', hint: expect.stringContaining(`chmod o-w '${dir}'`) }));
    // The sticky bit (as on /tmp) keeps others from renaming our folder away.
    chmodSync(dir, 0o1777);
    expect(() => assertPrivateDir(home, me)).not.toThrow();
    chmodSync(dir, 0o700);
  });
});
