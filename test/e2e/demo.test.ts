// The README's first command: the demo runs the main job end to end on a
// machine with no keychain (the file backend) and exits 0: tokens, then a
// child that sees only a placeholder while the stand-in API gets the real key.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cleanEnv, REPO_ROOT } from '../helpers/cli.js';

const KEY = `sk-demo-test-${Date.now()}`;

it('npm run demo: init on the file backend, agent, mint, verify, a run through the gateway, replay, audit verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-demo-test-'));
  try {
    const r = await execa('bash', [join(REPO_ROOT, 'scripts/demo.sh')], { env: cleanEnv(dir, { TMPDIR: dir, AGENTAUTH_DEMO_KEY: KEY }), extendEnv: false, reject: false, stdin: 'ignore' });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Using the encrypted file backend/);
    expect(r.stdout).toMatch(/Initialised agentauth \(file backend\)/);
    expect(r.stdout).toMatch(/^valid$/m);
    expect(r.stdout).toMatch(/^verified /m);
    expect(r.stderr).toContain(`Demo home: ${dir}/agentauth-demo.`);
    expect(r.stdout).toMatch(/^child: DEMO_API_KEY=aa-ph-demo-api-[\w-]+$/m);
    expect(r.stdout).toMatch(/^upstream: 200, the request carried the real key$/m);
    expect(r.stdout).toMatch(/^coder .* demo-api +1 started, 1 ended$/m);
    expect(r.stdout).toMatch(/ gateway\.request coder GET 127\.0\.0\.1:\d+\/v1 → allow 200 secret=demo-api$/m);
    expect(r.stdout).toMatch(/no invariant violations/);
    // The key went into the vault and to the stand-in API, nowhere the demo prints.
    expect(r.stdout + r.stderr).not.toContain(KEY);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
