import { describe, expect, it } from 'vitest';
import { findPassphraseWeakness } from '../../src/core/passphrase-rule.js';

describe('the passphrase floor', () => {
  it('refuses short and repetitive passphrases, counting characters, not bytes', () => {
    expect(findPassphraseWeakness('x')).toMatch(/1 character; use at least 12/);
    expect(findPassphraseWeakness('elevenchars')).toMatch(/11 characters/);
    expect(findPassphraseWeakness('abababababababab')).toMatch(/too few different characters/);
    expect(findPassphraseWeakness('ééééééééééé')).toMatch(/11 characters/);
  });

  it('passes a four-word phrase and a 32-byte random value in base64', () => {
    expect(findPassphraseWeakness('correct horse battery staple')).toBeNull();
    expect(findPassphraseWeakness(Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37) % 256)).toString('base64'))).toBeNull();
    expect(findPassphraseWeakness('twelve chars')).toBeNull();
  });
});
