// The package as a user gets it: `npm pack` of the built tree, installed
// globally into an empty prefix far from the source tree (so nothing resolves
// from the repository's node_modules), then the installed `agentauth` run
// through a first session. Runtime dependencies are only what dist/ loads
// (scripts/build.mjs enforces that at build time); this proves the bundle
// really runs with them alone, and that the tarball carries no source maps.
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, PASSPHRASE, REPO_ROOT, type CliResult } from '../helpers/cli.js';

let work: string;
let bin: string;
let packed: { files: { path: string; size: number }[]; unpackedSize: number };
let env: Record<string, string>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'agentauth-install-'));
  // --ignore-scripts: pack the dist/ `npm test` just built; prepack's clean rebuild would pull it from under tests running beside this one.
  const pack = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO_ROOT });
  const [info] = JSON.parse(pack.stdout) as [typeof packed & { filename: string }];
  packed = info;
  const prefix = join(work, 'prefix');
  // The npm cache that `npm ci` filled serves the few runtime dependencies; the registry only if it lacks them.
  await execa('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(work, info.filename)], { cwd: work });
  bin = join(prefix, 'bin/agentauth');
  const passphraseFile = join(work, 'passphrase');
  writeFileSync(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  // The installed bin's `#!/usr/bin/env node` finds the Node running this test first.
  env = cleanEnv(work, { PATH: `${dirname(process.execPath)}${delimiter}${process.env['PATH'] ?? ''}`, AGENTAUTH_HOME: join(work, 'home'), AGENTAUTH_PASSPHRASE_FILE: passphraseFile });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function agentauth(args: string[]): Promise<CliResult> {
  const r = await execa(bin, args, { env, extendEnv: false, reject: false, cwd: work, stdin: 'ignore' });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('the packed package', () => {
  it('ships the bundle, completions and man page, without source maps or sources', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['bin/agentauth.js', 'dist/main.cjs', 'dist/cli.js', 'dist/verify.js', 'dist/chunks/verify-worker.js', 'man/agentauth.1', 'package.json']));
    expect(paths.filter((p) => p.endsWith('.map') || p.startsWith('src/') || p.startsWith('test/') || p.startsWith('scripts/'))).toEqual([]);
    // 1.3 MB unpacked when this was written (5.2 MB with source maps); room to grow, not to regress to maps.
    // Counted without chunks an earlier build left in dist/ (a fresh checkout has none: see scripts/build.mjs).
    const built = new Set(JSON.parse(readFileSync(join(REPO_ROOT, 'dist/.outputs.json'), 'utf8')) as string[]);
    const size = packed.files.filter((f) => !f.path.startsWith('dist/') || built.has(f.path) || f.path.startsWith('dist/types/')).reduce((sum, f) => sum + f.size, 0);
    expect(size).toBeLessThan(2.5e6);
  });

  it('installs only its runtime dependencies: jose and the keychain binding', () => {
    const modules = join(work, 'prefix/lib/node_modules/agentauth/node_modules');
    const installed = readdirSync(modules).flatMap((name) => (name.startsWith('@') ? readdirSync(join(modules, name)).map((sub) => `${name}/${sub}`) : [name]));
    // The keychain binding brings its one prebuilt binary for this platform.
    expect(installed.filter((name) => !name.startsWith('@napi-rs/keyring-') && name !== '.package-lock.json').sort()).toEqual(['@napi-rs/keyring', 'jose']);
    expect(Object.keys(JSON.parse(readFileSync(join(modules, '../package.json'), 'utf8')).dependencies).sort()).toEqual(['@napi-rs/keyring', 'jose']);
  });

  it('runs init, agent add, token mint and audit verify from an empty folder', async () => {
    const init = await agentauth(['init', '--backend', 'file', '--issuer', 'https://issuer.test']);
    expect(init, init.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(init.stdout).toMatch(/Initialised agentauth \(file backend\)/);
    expect(existsSync(join(work, 'home/keystore.jwe'))).toBe(true);

    const add = await agentauth(['agent', 'add', 'pi-monitor', '--scope', 'docker:restart', '--max-ttl', '1h', '--aud', 'pack.lan']);
    expect(add).toMatchObject({ code: 0, stderr: '' });
    expect(add.stdout).toMatch(/Added agent pi-monitor/);

    const mint = await agentauth(['token', 'mint', 'pi-monitor', '--aud', 'pack.lan', '--scope', 'docker:restart']);
    expect(mint).toMatchObject({ code: 0, stderr: '' });
    const [, payload] = mint.stdout.trim().split('.');
    expect(JSON.parse(Buffer.from(payload ?? '', 'base64url').toString())).toMatchObject({ iss: 'https://issuer.test', sub: 'agent:pi-monitor', aud: 'pack.lan', scope: 'docker:restart' });

    // A service beside the install verifies it offline with agentauth/verify and the jose the install brought.
    const jwks = await agentauth(['jwks']);
    expect(jwks.code, jwks.stderr).toBe(0);
    const service = join(work, 'prefix/lib/service.mjs');
    writeFileSync(
      service,
      `import { createVerifier } from 'agentauth/verify';
const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'pack.lan', jwks: ${jwks.stdout.trim()} });
console.log((await verifier.verify(process.argv[2], { scopes: ['docker:restart'] })).agent);
`,
    );
    const verified = await execa(process.execPath, [service, mint.stdout.trim()], { reject: false });
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toBe('pi-monitor');

    expect((await agentauth(['audit', 'checkpoint'])).code).toBe(0);
    // --threads 1: the worker thread starts from where the install put it.
    const verify = await agentauth(['audit', 'verify', '--threads', '1', '--json']);
    expect(verify).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, verified: true, error: null, events: 4, checkpoints: 1, threads: 1 });

    // And it still catches tampering: one event's agent rewritten.
    const log = join(work, 'home/audit.jsonl');
    writeFileSync(log, readFileSync(log, 'utf8').replace('"agent":"pi-monitor"', '"agent":"pi-monitoz"'));
    const tampered = await agentauth(['audit', 'verify']);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/^TAMPERED .*\n  BAD_PREV at line \d/);
  });
});
