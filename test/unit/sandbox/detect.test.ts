import { describe, expect, it } from 'vitest';
import { diagnoseBwrapFailure, describeMissingSandbox, parseBwrapVersion } from '../../../src/core/sandbox/detect.js';

const NO_USERNS = 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.';

describe('diagnoseBwrapFailure', () => {
  it('names the sysctl that switched unprivileged user namespaces off', () => {
    expect(diagnoseBwrapFailure(NO_USERNS, { 'user.max_user_namespaces': '0', 'kernel.unprivileged_userns_clone': '1' }, 1000)).toMatchObject({
      reason: expect.stringContaining('user.max_user_namespaces = 0'),
      fix: expect.stringContaining('sysctl -w user.max_user_namespaces='),
    });
    expect(diagnoseBwrapFailure(NO_USERNS, { 'user.max_user_namespaces': '63000', 'kernel.unprivileged_userns_clone': '0' }, 1000)).toMatchObject({
      reason: expect.stringContaining('kernel.unprivileged_userns_clone = 0'),
      fix: expect.stringContaining('sysctl -w kernel.unprivileged_userns_clone=1'),
    });
  });

  it("names Ubuntu's AppArmor restriction and both ways out", () => {
    const found = diagnoseBwrapFailure('bwrap: setting up uid map: Permission denied', { 'user.max_user_namespaces': '63000', 'kernel.apparmor_restrict_unprivileged_userns': '1' }, 1000);
    expect(found.reason).toContain('kernel.apparmor_restrict_unprivileged_userns = 1');
    expect(found.fix).toContain('bwrap-userns-restrict');
    expect(found.fix).toContain('kernel.apparmor_restrict_unprivileged_userns=0');
  });

  it('as root no user namespace is involved: a container that forbids namespaces', () => {
    const found = diagnoseBwrapFailure('bwrap: Creating new namespace failed: Operation not permitted', { 'kernel.unprivileged_userns_clone': '0' }, 0);
    expect(found.reason).toContain('Creating new namespace failed');
    expect(found.fix).toMatch(/container/);
  });

  it('a container that masks /proc', () => {
    expect(diagnoseBwrapFailure('bwrap: Can\'t mount proc on /newroot/proc: Operation not permitted', {}, 1000).reason).toContain('cannot mount /proc');
  });

  it('an env without --default-signal', () => {
    expect(diagnoseBwrapFailure("env: unrecognized option '--default-signal'", {}, 1000).fix).toContain('coreutils 8.31');
  });

  it('anything else is quoted, not guessed at', () => {
    expect(diagnoseBwrapFailure('bwrap: something new\n', {}, 1000)).toEqual({ reason: 'bwrap failed: bwrap: something new', fix: expect.any(String) });
  });
});

describe('describeMissingSandbox and parseBwrapVersion', () => {
  it('says how to install bubblewrap', () => {
    expect(describeMissingSandbox('linux').fix).toContain('apt install bubblewrap');
    expect(describeMissingSandbox('win32').reason).toContain('win32');
  });

  it('reads the version', () => {
    expect(parseBwrapVersion('bubblewrap 0.8.0\n')).toBe('0.8.0');
    expect(parseBwrapVersion('')).toBe('unknown');
  });
});
