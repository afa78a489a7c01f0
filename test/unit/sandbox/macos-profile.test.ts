// The sandbox-exec profile as text. UNTESTED ON REAL macOS: these tests pin
// what is generated, not what Seatbelt does with it.
import { describe, expect, it } from 'vitest';
import { buildMacProfile, KEYCHAIN_SERVICES, quote } from '../../../src/core/sandbox/macos-profile.js';

describe('buildMacProfile', () => {
  it('allows by default and denies the hidden paths, writes to the read-only ones, the keychain and other processes', () => {
    const profile = buildMacProfile({ hide: ['/Users/me/.config/agentauth', '/Users/me/Library/Keychains'], readOnly: ['/Users/me/.gitconfig'] });
    expect(profile).toBe(
      [
        '(version 1)',
        '(allow default)',
        '(deny file-read* file-write*',
        '  (subpath "/Users/me/.config/agentauth")',
        '  (subpath "/Users/me/Library/Keychains"))',
        '(deny file-write*',
        '  (subpath "/Users/me/.gitconfig"))',
        '(deny mach-lookup',
        '  (global-name "com.apple.SecurityServer")',
        '  (global-name "com.apple.securityd")',
        '  (global-name "com.apple.securityd.xpc"))',
        '(deny process-info* (target others))',
        '',
      ].join('\n'),
    );
    expect(KEYCHAIN_SERVICES).toContain('com.apple.SecurityServer');
  });

  it('leaves out empty rules', () => {
    expect(buildMacProfile({ hide: [], readOnly: [] })).not.toContain('file-');
  });

  it('escapes double quotes and backslashes, so a path cannot end the string early', () => {
    expect(quote('/tmp/a"b')).toBe('"/tmp/a\\"b"');
    expect(quote('/tmp/a\\b')).toBe('"/tmp/a\\\\b"');
    expect(quote('/tmp/x\\")(allow default)(deny "')).toBe('"/tmp/x\\\\\\")(allow default)(deny \\""');
    const profile = buildMacProfile({ hide: ['/Users/me/we"ird\\'], readOnly: [] });
    expect(profile).toContain('(subpath "/Users/me/we\\"ird\\\\")');
    // Every string in the profile is closed where it should be: strip escapes, then quotes pair up per line.
    for (const line of profile.split('\n')) expect(line.replace(/\\./g, '').split('"').length % 2).toBe(1);
  });

  it('refuses control characters rather than guess how sandbox-exec reads them', () => {
    expect(() => quote('/tmp/new\nline')).toThrow(/control character/);
    expect(() => buildMacProfile({ hide: ['/tmp/tab\there'], readOnly: [] })).toThrow(expect.objectContaining({ kind: 'childStart' }));
  });
});
