// Conventions every command shares: exit codes, help, colour, stdout vs stderr.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('an unexpected failure is exit 70 with one line asking for a report; the stack only with AGENTAUTH_DEBUG=1', async () => {
    const broken = makeTempHome({ AGENTAUTH_HOME: '/dev/null/agentauth', AGENTAUTH_PASSPHRASE: 'x' });
    try {
      const r = await broken.run(['init', '--backend', 'file']);
      expect(r.code).toBe(70);
      expect(r.stderr).toMatch(/^error: internal error: .*ENOTDIR/);
      expect(r.stderr).toMatch(/please report it/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      const debug = await broken.run(['init', '--backend', 'file'], { env: { AGENTAUTH_DEBUG: '1' } });
      expect(debug.code).toBe(70);
      expect(debug.stderr).toMatch(/\n\s+at /);
    } finally {
      broken.cleanup();
    }
  });
});
