// The sandbox-exec profile (SBPL, Apple's Scheme-based sandbox language) for
// the child on macOS. Pure. UNTESTED ON REAL macOS: this project's CI has no
// Mac; the unit tests check the text, not what the kernel does with it.
//
// Everything is allowed except: reading or writing the hidden paths, writing
// the read-only ones, the keychain daemons' Mach services, and looking into
// other processes (agentauth's arguments and environment). Paths must be
// real paths (/private/tmp, not /tmp): Seatbelt matches what the kernel
// resolved. `subpath` matches the path itself and everything under it, so it
// covers files and folders alike, existing or not yet.
import { childStartError } from '../errors.js';

export interface MacProfileInput {
  /** Neither readable nor writable. */
  hide: string[];
  /** Readable, not writable. */
  readOnly: string[];
}

/** The keychain's daemons: securityd (file keychains) and the data-protection keychain's XPC services. */
export const KEYCHAIN_SERVICES = ['com.apple.SecurityServer', 'com.apple.securityd', 'com.apple.securityd.xpc'];

export function buildMacProfile(input: MacProfileInput): string {
  const lines = ['(version 1)', '(allow default)'];
  if (input.hide.length > 0) lines.push(rule('deny file-read* file-write*', input.hide.map((path) => `(subpath ${quote(path)})`)));
  if (input.readOnly.length > 0) lines.push(rule('deny file-write*', input.readOnly.map((path) => `(subpath ${quote(path)})`)));
  lines.push(rule('deny mach-lookup', KEYCHAIN_SERVICES.map((name) => `(global-name ${quote(name)})`)));
  lines.push('(deny process-info* (target others))');
  return `${lines.join('\n')}\n`;
}

function rule(head: string, filters: string[]): string {
  return `(${head}\n${filters.map((filter) => `  ${filter}`).join('\n')})`;
}

/**
 * An SBPL string literal: backslash and double quote escaped. Control
 * characters are refused rather than escaped: how sandbox-exec's reader
 * takes escapes beyond these two is unverified here, and a wrongly read
 * path would silently protect nothing.
 */
export function quote(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    throw childStartError('SANDBOX_BAD_PATH', `cannot describe ${JSON.stringify(text)} to sandbox-exec: it holds a control character`, {
      hint: 'rename it, or run with --no-sandbox',
    });
  }
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
