// Conventions every command shares: exit codes, help, colour, stdout vs stderr.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { makeInitialisedHome, makeTempHome, type TempHome } from '../helpers/cli.js';

let t: TempHome;
beforeAll(async () => {
  t = await makeInitialisedHome();
});
afterAll(() => t.cleanup());

describe('CLI conventions', () => {
  it('--version prints only the version', async () => {
    const r = await t.run(['--version']);
    expect(r).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it('--help teaches: commands, a quick start, exit codes', async () => {
    const r = await t.run(['--help']);
    expect(r.code).toBe(0);
    for (const word of ['init', 'agent', 'token', 'audit', 'run', 'Quick start', 'Exit codes']) expect(r.stdout).toContain(word);
    const mint = await t.run(['token', 'mint', '--help']);
    expect(mint.stdout).toMatch(/--aud <audience>/);
    expect(mint.stdout).toMatch(/--on-behalf-of/);
  });

  it('unknown commands and missing arguments are usage errors (exit 2) on stderr', async () => {
    const unknown = await t.run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    const missing = await t.run(['token', 'mint']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'agent'/);
  });

  it('errors become one JSON document on stdout with --json', async () => {
    const r = await t.run(['agent', 'show', 'nobody', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ schemaVersion: 1, ok: false, error: { code: 'UNKNOWN_AGENT' } });
    expect(r.stderr).toMatch(/no agent named "nobody"/);
  });

  it('never colours output that is not a terminal, whatever NO_COLOR says', async () => {
    for (const env of [{}, { NO_COLOR: '1' }, { FORCE_COLOR: '1' }]) {
      const r = await t.run(['agent', 'show', 'nobody'], { env });
      expect(r.stderr).not.toMatch(/\u001b\[/);
    }
  });

  it('a home folder that cannot exist is the user\'s to fix (exit 3, naming the path and the variable), not a bug; the stack only with AGENTAUTH_DEBUG=1', async () => {
    const broken = makeTempHome({ AGENTAUTH_HOME: '/dev/null/agentauth', AGENTAUTH_PASSPHRASE: 'x' });
    try {
      const r = await broken.run(['init', '--backend', 'file', '--json']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^error: \/dev\/null\/agentauth \(from AGENTAUTH_HOME\) does not exist: part of it is not a folder\n$/);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: 'USER_FILE_NOT_FOUND', path: '/dev/null/agentauth' } });
      const debug = await broken.run(['init', '--backend', 'file'], { env: { AGENTAUTH_DEBUG: '1' } });
      expect(debug.code).toBe(3);
      expect(debug.stderr).toMatch(/\n\s+at /);
    } finally {
      broken.cleanup();
    }
  });

  it('a file named on the command line that is missing, a folder or unreadable exits 3 or 2 naming it, the same for every command', async () => {
    const missing = join(t.dir, 'nowhere');
    for (const args of [
      ['audit', 'verify', '--trusted', missing],
      ['audit', 'replay', '--trusted', missing],
      ['audit', 'verify-proof', missing],
      ['token', 'verify', 'x.y.z', '--jwks', missing],
      ['restore', missing],
    ]) {
      const r = await t.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr, args.join(' ')).toContain(`${missing} (from `);
      expect(r.stderr).not.toMatch(/internal error|please report/);
    }
    const folder = await t.run(['audit', 'replay', '--trusted', t.dir]);
    expect(folder.code, folder.stderr).toBe(2);
    expect(folder.stderr).toContain(`cannot use ${t.dir} (from --trusted): it is a folder, not a file`);
  });
});
