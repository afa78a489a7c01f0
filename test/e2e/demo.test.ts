// The README's first command: the demo runs the main job end to end on a
// machine with no keychain (the file backend) and exits 0.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cleanEnv, REPO_ROOT } from '../helpers/cli.js';

it('npm run demo: init on the file backend, agent, mint, verify, audit verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-demo-test-'));
  try {
    const r = await execa('bash', [join(REPO_ROOT, 'scripts/demo.sh')], { env: cleanEnv(dir, { TMPDIR: dir }), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Using the encrypted file backend/);
    expect(r.stdout).toMatch(/Initialised agentauth \(file backend\)/);
    expect(r.stdout).toMatch(/^valid$/m);
    expect(r.stdout).toMatch(/^verified /m);
    expect(r.stderr).toContain(`Demo home: ${dir}/agentauth-demo.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
