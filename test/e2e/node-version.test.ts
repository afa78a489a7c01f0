// bin/agentauth.js refuses a Node older than 20.19 before loading anything,
// with the version it found and where to get a newer one (issue 13, item 1).
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, makeTempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';

const t = makeTempHome();
afterAll(() => t.cleanup());

describe('Node version', () => {
  it('a real Node 18 gets exit 2, the version found and how to get a newer one; nothing is created', async (context) => {
    const node18 = process.env['AGENTAUTH_TEST_NODE18'];
    skipWithout(context, node18 && existsSync(node18) ? null : 'a Node 18 binary in AGENTAUTH_TEST_NODE18 (npm install --no-save --prefix /tmp/node18 node@18)');
    const r = await execa(node18!, [BIN, 'init', '--backend', 'file'], { env: { ...t.env, AGENTAUTH_PASSPHRASE: 'correct horse battery staple' }, extendEnv: false, reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: agentauth needs Node\.js 20\.19 or newer; this is v18\.\d+\.\d+ /);
    expect(r.stderr).toMatch(/hint: .*NodeSource.*nvm/);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(existsSync(t.home) ? readdirSync(t.home) : []).toEqual([]);
  });

  it('the check reads the running version: a Node that reports 20.18 is refused too', async () => {
    // Node 20 itself, told it is 20.18 through a preloaded module: the check must read process.versions, and stop before importing.
    const r = await execa(process.execPath, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.18.0"})', BIN, '--version'], {
      env: t.env,
      extendEnv: false,
      reject: false,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/needs Node\.js 20\.19 or newer/);
  });
});
