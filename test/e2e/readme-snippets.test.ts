// Every integration example of the README ("Verify agentauth tokens in your
// service") and the service files of docs/serve.md, taken from the documents
// themselves so they cannot drift, and run against a real `agentauth serve`:
// Express, Hono, an MCP server, Python with Debian's PyJWT, curl with DPoP,
// a systemd unit (systemd-analyze verify) and a launchd plist (plistlib).
import { execa, type Subprocess } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeInitialisedHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const SERVE_DOC = readFileSync(join(REPO_ROOT, 'docs/serve.md'), 'utf8');

/** The fenced block right after `<!-- snippet: NAME -->`. */
function snippet(document: string, name: string): string {
  const match = new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(document);
  if (!match) throw new Error(`no snippet "${name}"`);
  return match[1]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ReturnType<typeof runExample>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`the example exited: ${String((await child).stderr)}`);
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

let t: TempHome;
let serve: RunningServe;
let work: string;
let serveHost: string;
let expressPort: number;
let mcpPort: number;
const children: Subprocess[] = [];

/** The snippet as a user would adapt it: their serve's address and free ports. */
function adapt(code: string): string {
  return code.replaceAll('127.0.0.1:8765', serveHost).replaceAll('3000', String(expressPort)).replaceAll('3001', String(mcpPort));
}

async function mint(...args: string[]): Promise<string> {
  const r = await t.run(['token', 'mint', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

beforeAll(async () => {
  t = await makeInitialisedHome();
  serve = await startServe(t.env);
  serveHost = new URL(serve.url!).host;
  // The README's advice: the issuer is serve's URL (picked up without a restart).
  expect((await t.run(['config', 'set', 'issuer', serve.url!])).code).toBe(0);
  expect((await t.run(['agent', 'add', 'bot', '--scope', 'docker:restart:*', 'email:send'])).code).toBe(0);
  expect((await t.run(['agent', 'add', 'pi', '--scope', 'docker:restart:*', '--aud', 'pack.lan', '--dpop'])).code).toBe(0);
  // A project folder that depends on agentauth, express and hono, as a user's would.
  work = mkdtempSync(join(tmpdir(), 'agentauth-readme-'));
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(REPO_ROOT, join(work, 'node_modules/agentauth'));
  for (const dep of ['express', 'hono']) symlinkSync(join(REPO_ROOT, 'node_modules', dep), join(work, 'node_modules', dep));
  mkdirSync(join(work, 'bin'));
  writeFileSync(join(work, 'bin/agentauth'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  expressPort = await freePort();
  mcpPort = await freePort();
});
afterAll(async () => {
  for (const child of children) child.kill();
  await serve?.stop();
  t?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

// Its type inferred: execa's ResultPromise, spelled out, fails its own check under exactOptionalPropertyTypes.
function runExample(file: string, code: string) {
  writeFileSync(join(work, file), adapt(code));
  const child = execa(process.execPath, [join(work, file)], { cwd: work, reject: false });
  children.push(child);
  return child;
}

describe('README: Verify agentauth tokens in your service', () => {
  it('Express: 401 without a token, 403 without the scope, 200 with it', async () => {
    const child = runExample('express.mjs', snippet(README, 'express'));
    await waitForPort(expressPort, child);
    const base = `http://127.0.0.1:${expressPort}`;
    const none = await fetch(`${base}/status`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const hello = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${await mint('bot', '--aud', 'pack.lan')}` } });
    expect(await hello.json()).toEqual({ hello: 'bot' });
    const forbidden = await fetch(`${base}/restart`, { method: 'POST', headers: { authorization: `Bearer ${await mint('bot', '--aud', 'pack.lan', '--scope', 'email:send')}` } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    const ok = await fetch(`${base}/restart`, { method: 'POST', headers: { authorization: `Bearer ${await mint('bot', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx')}` } });
    expect(await ok.json()).toEqual({ restarted: 'nginx', by: 'bot' });
  });

  it('curl with DPoP from a shell script, against the Express example', async () => {
    const script = join(work, 'restart.sh');
    writeFileSync(script, adapt(snippet(README, 'curl-dpop')));
    const env = { ...t.env, PATH: `${join(work, 'bin')}:${process.env['PATH']}` };
    for (const round of [1, 2]) {
      const r = await execa('bash', ['-e', script], { env, extendEnv: false, reject: false });
      expect(r.exitCode, `round ${round}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ restarted: 'nginx', by: 'pi' });
    }
    // The key the script made on its first run: private, in a private folder.
    const key = join(t.dir, '.config/agentauth/pi-dpop.jwk');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.dir, '.config/agentauth')).mode & 0o777).toBe(0o700);
  });

  it('Hono through its Fetch API', async () => {
    const file = join(work, 'hono.mjs');
    writeFileSync(file, adapt(snippet(README, 'hono')));
    const app = (await import(pathToFileURL(file).href)).default as { fetch(request: Request): Promise<Response> };
    const call = async (token?: string) =>
      app.fetch(new Request('http://pack.lan/restart', { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} }));
    expect((await call()).status).toBe(401);
    expect((await call(await mint('bot', '--aud', 'pack.lan', '--scope', 'email:send'))).status).toBe(403);
    const ok = await call(await mint('bot', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'));
    expect(await ok.json()).toEqual({ restarted: 'nginx', by: 'bot' });
  });

  it('an MCP server: RFC 9728 metadata, resource_metadata in the 401, 200 with a token for its URL', async () => {
    const child = runExample('mcp.mjs', snippet(README, 'mcp'));
    await waitForPort(mcpPort, child);
    const resource = `http://127.0.0.1:${mcpPort}/mcp`;
    const metadataUrl = `http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`;
    expect(await (await fetch(metadataUrl)).json()).toMatchObject({ resource, authorization_servers: [serve.url] });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    const none = await fetch(resource, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain(`resource_metadata="${metadataUrl}"`);
    const wrongAudience = await fetch(resource, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${await mint('bot', '--aud', 'pack.lan')}` } });
    expect(wrongAudience.status).toBe(401);
    const ok = await fetch(resource, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${await mint('bot', '--aud', resource)}` } });
    expect(await ok.json()).toEqual({ jsonrpc: '2.0', id: 7, result: { agent: 'bot' } });
  });

  it("Python: PyJWT's PyJWKClient against serve, before and after a key rotation", async (context) => {
    const probe = await execa('/usr/bin/python3', ['-c', 'import jwt, cryptography'], { reject: false });
    skipWithout(context, probe.exitCode === 0 ? null : '/usr/bin/python3 with PyJWT and cryptography (apt-get install python3-jwt python3-cryptography)');
    const file = join(work, 'verify.py');
    writeFileSync(file, adapt(snippet(README, 'python')));
    const run = (token: string) => execa('/usr/bin/python3', [file, token], { reject: false });
    const ok = await run(await mint('bot', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'));
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('ok agent:bot');
    expect((await run(await mint('bot', '--aud', 'other.lan'))).exitCode).not.toBe(0);
    expect((await run(await mint('bot', '--aud', 'pack.lan', '--scope', 'email:send'))).stderr).toMatch(/missing scope/);
    expect((await t.run(['key', 'rotate'])).code).toBe(0);
    // A token from the new key: PyJWKClient fetches the JWKS again for the unknown kid.
    const rotated = await run(await mint('bot', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'));
    expect(rotated.exitCode, rotated.stderr).toBe(0);
    expect((await run(await mint('pi', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx', '--dpop-jkt', 'A'.repeat(43)))).stderr).toMatch(/DPoP-bound/);
  });
});

describe('docs/serve.md: service files', () => {
  it('the systemd unit passes systemd-analyze verify without a warning', async () => {
    const unit = snippet(SERVE_DOC, 'systemd');
    expect(unit).toMatch(/^LoadCredential=agentauth-passphrase:\/etc\/agentauth\/passphrase$/m);
    expect(unit).toMatch(/^Environment=AGENTAUTH_PASSPHRASE_FILE=%d\/agentauth-passphrase$/m);
    const analyze = await execa('systemd-analyze', ['--version'], { reject: false });
    if (analyze.exitCode !== 0) {
      // Without systemd, check the text: sections and the keys that matter.
      expect(unit).toMatch(/^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^ExecStart=\/\S+ serve /m);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'agentauth-unit-'));
    try {
      // systemd-analyze checks that ExecStart's program exists: point it at one that does.
      const program = join(dir, 'agentauth');
      writeFileSync(program, '#!/bin/sh\n', { mode: 0o755 });
      const file = join(dir, 'agentauth-serve.service');
      writeFileSync(file, unit.replace('/usr/local/bin/agentauth', program));
      const r = await execa('systemd-analyze', ['verify', file], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      // A misspelt key is only a warning to systemd: make sure this check would see one.
      writeFileSync(file, unit.replace('/usr/local/bin/agentauth', program).replace('LoadCredential=', 'LoadCredentail='));
      expect((await execa('systemd-analyze', ['verify', file], { reject: false })).stderr).toMatch(/Unknown key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the launchd plist parses as a property list', async (context) => {
    const probe = await execa('/usr/bin/python3', ['-c', 'import plistlib'], { reject: false });
    skipWithout(context, probe.exitCode === 0 ? null : '/usr/bin/python3');
    const plist = snippet(SERVE_DOC, 'launchd');
    const r = await execa('/usr/bin/python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: plist, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed).toMatchObject({ Label: 'dev.agentauth.serve', RunAtLoad: true, KeepAlive: { SuccessfulExit: false } });
    expect(parsed.ProgramArguments.slice(0, 2)).toEqual(['/usr/local/bin/agentauth', 'serve']);
    const broken = await execa('/usr/bin/python3', ['-c', 'import plistlib, sys; plistlib.loads(sys.stdin.buffer.read())'], { input: plist.replace('</dict>\n</plist>', '</plist>'), reject: false });
    expect(broken.exitCode).not.toBe(0);
  });
});

