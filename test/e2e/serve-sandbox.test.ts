// Whoever reaches serve's socket can mint, for any agent: a child of
// `agentauth run` must not reach it, wherever the socket is (inside
// AGENTAUTH_HOME, in $XDG_RUNTIME_DIR/agentauth/, in the state folder when
// there is no runtime folder, or at AGENTAUTH_SOCK). Each attempt is made
// sandboxed and with --no-sandbox: the second must mint, so the test tests
// the sandbox and not a wrong path.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempHome, type TempHome } from '../helpers/cli.js';
import { bwrapMissing, shellQuote } from '../helpers/sandbox.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const noBwrap = await bwrapMissing('serve sandbox tests');
const cleanups: (() => void | Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A home initialised with `env` (file backend), agents coder (for run) and admin (what the child wants). */
async function setUp(env: Record<string, string | undefined>): Promise<{ t: TempHome; serve: RunningServe }> {
  const t = makeTempHome(env);
  cleanups.push(() => t.cleanup());
  t.env['AGENTAUTH_PASSPHRASE_FILE'] = t.passphraseFile;
  for (const args of [['init', '--backend', 'file'], ['agent', 'add', 'coder', '--scope', 'demo:read'], ['agent', 'add', 'admin', '--scope', 'everything:*']]) {
    const r = await t.run(args);
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  }
  const serve = await startServe(t.env, ['--no-http']);
  cleanups.push(() => serve.stop());
  return { t, serve };
}

/** The child asks the socket for an admin token; it prints MINTED or the error it met. */
async function attempt(t: TempHome, socket: string, sandbox: boolean): Promise<string> {
  const probe = `const s=require('net').connect(process.argv[1]);s.on('connect',()=>s.write(JSON.stringify({op:'mint',agent:'admin',aud:'x',scope:['everything:read']})+'\\n'));s.on('data',(d)=>{console.log(String(d).includes('"ok":true')?'MINTED':'REFUSED');s.destroy()});s.on('error',(e)=>console.log('ERROR',e.code))`;
  const r = await t.run(['run', '--agent', 'coder', ...(sandbox ? [] : ['--no-sandbox']), '--', 'sh', '-c', `echo ran; ${shellQuote(process.execPath)} -e ${shellQuote(probe)} ${shellQuote(socket)}`]);
  expect(r.stdout.startsWith('ran\n'), r.stderr).toBe(true);
  if (sandbox) expect(r.stderr).not.toMatch(/not sandboxed/);
  return r.stdout.slice('ran\n'.length).trim();
}

describe.skipIf(noBwrap)('a child of run cannot mint through serve', () => {
  const cases: [string, () => Record<string, string | undefined>][] = [
    ['the socket inside AGENTAUTH_HOME', () => ({})],
    [
      'the socket in $XDG_RUNTIME_DIR/agentauth/ (XDG folders, no AGENTAUTH_HOME)',
      () => {
        const base = mkdtempSync(join(tmpdir(), 'agentauth-xdg-'));
        cleanups.push(() => rmSync(base, { recursive: true, force: true }));
        mkdirSync(join(base, 'run'), { mode: 0o700 });
        return { AGENTAUTH_HOME: undefined, XDG_CONFIG_HOME: join(base, 'config'), XDG_DATA_HOME: join(base, 'data'), XDG_STATE_HOME: join(base, 'state'), XDG_CACHE_HOME: join(base, 'cache'), XDG_RUNTIME_DIR: join(base, 'run') };
      },
    ],
    [
      'the socket in the state folder (no runtime folder at all)',
      () => {
        const base = mkdtempSync(join(tmpdir(), 'agentauth-xdg-'));
        cleanups.push(() => rmSync(base, { recursive: true, force: true }));
        return { AGENTAUTH_HOME: undefined, XDG_CONFIG_HOME: join(base, 'config'), XDG_DATA_HOME: join(base, 'data'), XDG_STATE_HOME: join(base, 'state'), XDG_CACHE_HOME: join(base, 'cache'), XDG_RUNTIME_DIR: undefined };
      },
    ],
    [
      'a socket at AGENTAUTH_SOCK',
      () => {
        const base = mkdtempSync(join(tmpdir(), 'agentauth-sock-'));
        cleanups.push(() => rmSync(base, { recursive: true, force: true }));
        return { AGENTAUTH_SOCK: join(base, 'mint.sock') };
      },
    ],
  ];
  for (const [name, env] of cases) {
    it(name, async () => {
      const { t, serve } = await setUp(env());
      expect(await attempt(t, serve.socket, false)).toBe('MINTED');
      const sandboxed = await attempt(t, serve.socket, true);
      expect(sandboxed).not.toBe('MINTED');
      expect(sandboxed).toMatch(/^ERROR (ENOENT|EACCES|ECONNREFUSED)$/);
    });
  }
});
