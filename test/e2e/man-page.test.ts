// man/agentauth.1 is generated from the command tree; a stale copy fails here,
// and the package ships it (package.json "files" and "man").
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempHome, REPO_ROOT } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';

const t = makeTempHome();
afterAll(() => t.cleanup());
const FILE = join(REPO_ROOT, 'man/agentauth.1');

describe('man page', () => {
  it('man/agentauth.1 is what the command tree gives (run npm run man if not)', async () => {
    const r = await t.run(['manpage']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(FILE, 'utf8')).toBe(r.stdout);
  });

  it('documents every command and is shipped in the package', async () => {
    const text = readFileSync(FILE, 'utf8');
    for (const command of ['init', 'token mint', 'run', 'audit verify', 'backup', 'restore', 'passphrase change', 'migrate', 'reset', 'agent remove']) {
      expect(text, command).toContain(`.B agentauth ${command.replace(/-/g, '\\-')}`);
    }
    expect(text).toContain('Also: agentauth agent rm');
    expect(text).not.toMatch(/manpage/);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.files).toContain('man');
    expect(pkg.man).toEqual(['./man/agentauth.1']);
    expect((await t.run(['--help'])).stdout).not.toMatch(/manpage/);
  });

  it('renders without a groff warning', async (context) => {
    const probe = await execa('groff', ['--version'], { reject: false });
    skipWithout(context, probe.exitCode === 0 ? null : 'groff (apt-get install groff-base)');
    const r = await execa('groff', ['-man', '-Tutf8', '-ww', '-z', FILE], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
  });
});
