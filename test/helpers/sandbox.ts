// Shared by the sandbox end-to-end tests: is a real bwrap here, and what did
// run.start say about the sandbox.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { skipSuiteWithout } from './prerequisites.js';

/** bwrap on PATH and able to make a sandbox (CI installs bubblewrap and fails instead of skipping). */
export async function bwrapMissing(suite: string): Promise<boolean> {
  const probe = await execa('bwrap', ['--dev-bind', '/', '/', '--unshare-pid', '--proc', '/proc', 'true'], { reject: false });
  return skipSuiteWithout(suite, probe.exitCode === 0 ? null : `a working bwrap (apt-get install bubblewrap): ${probe.stderr || probe.message}`);
}

/** The data of every `kind` event in an audit log file, in order. */
export function eventsOf(logFile: string, kind: string): Record<string, unknown>[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; data: Record<string, unknown> })
    .filter((event) => event.kind === kind)
    .map((event) => event.data);
}

/** A shell word for `value`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
