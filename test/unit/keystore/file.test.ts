// The file keystore's passphrase handling: the floor for new keystores, three tries at a prompt, rekeying.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileKeystore } from '../../../src/core/keystore/file.js';
import type { PassphraseSource } from '../../../src/core/keystore/index.js';

const dir = mkdtempSync(join(tmpdir(), 'agentauth-fks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const GOOD = 'correct horse battery staple';

function source(first: string, retries: string[] = [], prompt = true): PassphraseSource & { asked: number } {
  const fn = Object.assign(async () => first, { asked: 0 }) as PassphraseSource & { asked: number };
  if (prompt) {
    fn.retry = async () => {
      fn.asked += 1;
      return retries.shift();
    };
  }
  return fn;
}

describe('file keystore passphrases', () => {
  it('a new keystore needs a passphrase above the floor', async () => {
    const keystore = createFileKeystore({ owner: process.getuid?.(), file: join(dir, 'weak.jwe'), passphrase: source('short'), iterations: 1000 });
    await expect(keystore.setMany({ a: '1' })).rejects.toMatchObject({ code: 'WEAK_PASSPHRASE', kind: 'usage' });
  });

  it('a prompt gets three tries in all; a file or a variable one', async () => {
    const file = join(dir, 'ks.jwe');
    await createFileKeystore({ owner: process.getuid?.(), file, passphrase: source(GOOD), iterations: 1000 }).setMany({ a: '1' });
    const third = source('wrong 1', ['wrong 2', GOOD]);
    expect(await createFileKeystore({ owner: process.getuid?.(), file, passphrase: third }).get('a')).toBe('1');
    expect(third.asked).toBe(2);
    const never = source('wrong 1', ['wrong 2', 'wrong 3', GOOD]);
    await expect(createFileKeystore({ owner: process.getuid?.(), file, passphrase: never }).get('a')).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(never.asked).toBe(2);
    const fromFile = source('wrong', [GOOD], false);
    await expect(createFileKeystore({ owner: process.getuid?.(), file, passphrase: fromFile }).get('a')).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
  });

  it('changePassphrase re-encrypts: the old one stops working, the entries stay', async () => {
    const file = join(dir, 'rekey.jwe');
    const keystore = createFileKeystore({ owner: process.getuid?.(), file, passphrase: source(GOOD), iterations: 1000 });
    await keystore.setMany({ a: '1', b: '2' });
    const before = readFileSync(file, 'utf8');
    await expect(keystore.changePassphrase('tiny')).rejects.toMatchObject({ code: 'WEAK_PASSPHRASE' });
    expect(readFileSync(file, 'utf8')).toBe(before);
    await keystore.changePassphrase('a brand new passphrase');
    await expect(createFileKeystore({ owner: process.getuid?.(), file, passphrase: source(GOOD, [], false) }).get('a')).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(await createFileKeystore({ owner: process.getuid?.(), file, passphrase: source('a brand new passphrase') }).listNames()).toEqual(['a', 'b']);
  });
});
