// What a new home-lab user hit (issue 13), through the built CLI: the mint
// defaults and order of checks, the passphrase floor, the wording of
// retire, audience and plural messages, `agent rm`, `run … ls -la`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, makeTempHome, writeTempFile, type TempHome } from '../helpers/cli.js';
import { findKeyWithKidPrefix } from '../helpers/issuer.js';
import { snapshotDir } from '../helpers/snapshot.js';

const homes: TempHome[] = [];
const track = (home: TempHome) => (homes.push(home), home);
afterAll(() => homes.forEach((home) => home.cleanup()));

let t: TempHome;
beforeAll(async () => {
  t = track(await makeInitialisedHome());
  for (const args of [
    ['agent', 'add', 'monitor', '--scope', 'docker:restart:*', 'docker:ps', '--aud', 'pack.lan'],
    ['agent', 'add', 'restarter', '--scope', 'docker:restart:*', '--aud', 'pack.lan', 'nas.lan'],
  ]) {
    const r = await t.run(args);
    expect(r.code, r.stderr).toBe(0);
  }
});

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
const logEvents = (home: TempHome) =>
  readFileSync(join(home.home, 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; data: Record<string, unknown> });
/** No passphrase source at all: a command that unlocks the keystore would fail with exit 4. */
const NO_PASSPHRASE = { AGENTAUTH_PASSPHRASE_FILE: undefined, AGENTAUTH_PASSPHRASE: undefined };

describe('token mint defaults (items 4 and 12)', () => {
  it('without --scope, only the concrete scopes; without --aud, the one allowed audience', async () => {
    const r = await t.run(['token', 'mint', 'monitor']);
    expect(r.code, r.stderr).toBe(0);
    expect(claimsOf(r.stdout.trim())).toMatchObject({ scope: 'docker:ps', aud: 'pack.lan' });
  });

  it('a wildcard only when named', async () => {
    const r = await t.run(['token', 'mint', 'monitor', '--scope', 'docker:restart:*']);
    expect(r.code, r.stderr).toBe(0);
    expect(claimsOf(r.stdout.trim()).scope).toBe('docker:restart:*');
  });

  it('an agent with only wildcards: exit 2 naming --scope, before any passphrase, and no token minted', async () => {
    const before = logEvents(t).length;
    const r = await t.run(['token', 'mint', 'restarter', '--aud', 'pack.lan'], { env: NO_PASSPHRASE });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/only wildcard scopes/);
    expect(r.stderr).toMatch(/--scope docker:restart:NAME/);
    expect(logEvents(t).length).toBe(before);
  });

  it('--aud is required when the agent allows several audiences, naming them', async () => {
    const r = await t.run(['token', 'mint', 'restarter', '--scope', 'docker:restart:nginx'], { env: NO_PASSPHRASE });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--aud AUDIENCE/);
    expect(r.stderr).toMatch(/allows: pack\.lan, nas\.lan/);
  });
});

describe('order of checks (item 6)', () => {
  for (const [what, args, reason] of [
    ['a scope beyond the entry', ['--scope', 'docker:stop:nginx'], 'SCOPE_NOT_ALLOWED'],
    ['an audience beyond the entry', ['--aud', 'evil.lan'], 'AUDIENCE_NOT_ALLOWED'],
    ['a TTL beyond the entry', ['--ttl', '7d'], 'TTL_NOT_ALLOWED'],
  ] as const) {
    it(`${what}: exit 5 without asking for a passphrase, logged as token.refuse`, async () => {
      const before = snapshotDir(t.home);
      const r = await t.run(['token', 'mint', 'monitor', ...args], { env: NO_PASSPHRASE });
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).not.toMatch(/passphrase/);
      const refusal = logEvents(t).at(-1)!;
      expect(refusal.kind).toBe('token.refuse');
      expect(refusal.data).toMatchObject({ agent: 'monitor', reason, message: expect.any(String) });
      // Only the log changed.
      const after = snapshotDir(t.home);
      for (const file of Object.keys(before).filter((name) => !name.startsWith('audit.jsonl'))) expect(after[file], file).toBe(before[file]);
    });
  }
});

describe('messages', () => {
  it('a wrong audience shows the expected and the actual value', async () => {
    const token = (await t.run(['token', 'mint', 'monitor'])).stdout.trim();
    const r = await t.run(['token', 'verify', token, '--aud', 'nas.lan']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('claim "aud" is "pack.lan", expected "nas.lan"');
  });

  it('key retire says the tokens fail only locally, and for how long a cached JWKS keeps them', async () => {
    const home = track(await makeInitialisedHome());
    const old = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8')).keys[0].kid;
    expect((await home.run(['key', 'rotate'])).code).toBe(0);
    const r = await home.run(['key', 'retire', old]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no longer verify here/);
    expect(r.stdout).toMatch(/cached the JWKS keeps accepting them .* up to 10m \(the JWKS cache age\)/);
  });

  it('key retire takes a kid that starts with - (one in 64 does), even -V… that commander would read as --version', async () => {
    const home = track(await makeInitialisedHome());
    expect((await home.run(['key', 'rotate'])).code).toBe(0);
    // The previous key becomes one whose kid starts with -V: the same key every run.
    const { kid, x } = findKeyWithKidPrefix('-V');
    const configFile = join(home.home, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    const previous = config.keys.find((key: { status: string }) => key.status === 'previous');
    config.keystoreEntries = config.keystoreEntries.map((name: string) => (name === `issuer/${previous.kid}` ? `issuer/${kid}` : name));
    Object.assign(previous, { kid, jwk: { ...previous.jwk, x, kid } });
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const jwksKids = async () => JSON.parse((await home.run(['jwks'])).stdout).keys.map((key: { kid: string }) => key.kid);
    expect(await jwksKids()).toContain(kid);

    const r = await home.run(['key', 'retire', kid, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ retired: kid });
    expect(await jwksKids()).not.toContain(kid);
    expect(logEvents(home).filter((event) => event.kind === 'key.retire')).toEqual([expect.objectContaining({ data: { kid } })]);
    // Gone now: not found, naming it (3), rather than an unknown option (2) or the version (0); -- still works.
    for (const args of [['key', 'retire', kid], ['key', 'retire', '--', kid]]) {
      const again = await home.run(args);
      expect(again.code).toBe(3);
      expect(again.stderr).toContain(`no issuer key with kid ${kid}`);
    }
  });

  it('status counts in proper plural', async () => {
    const home = track(await makeInitialisedHome());
    expect((await home.run(['agent', 'add', 'bot', '--scope', 'a:b'])).code).toBe(0);
    const r = await home.run(['status']);
    expect(r.stdout).toMatch(/counts\s+1 agent, 0 secrets, 1 key\n/);
  });

  it('agent rm is agent remove', async () => {
    const home = track(await makeInitialisedHome());
    expect((await home.run(['agent', 'add', 'bot', '--scope', 'a:b'])).code).toBe(0);
    const r = await home.run(['agent', 'rm', 'bot']);
    expect(r.code, r.stderr).toBe(0);
    expect((await home.run(['agent', 'list', '--names'])).stdout.trim()).toBe('');
  });

  it('run --agent x ls -la suggests -- with the corrected line', async () => {
    const r = await t.run(['run', '--agent', 'monitor', 'ls', '-la']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '-la'/);
    expect(r.stderr).toContain('hint: to pass flags to the command, put -- before it: agentauth run --agent monitor -- ls -la\n');
  });
});

describe('passphrase floor (item 5)', () => {
  it('init refuses a short passphrase (exit 2, nothing created) and takes a 32-byte base64 file', async () => {
    const weak = track(makeTempHome({ AGENTAUTH_PASSPHRASE: 'x' }));
    const r = await weak.run(['init', '--backend', 'file']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/keystore passphrase is too weak: it has 1 character; use at least 12/);
    expect(r.stderr).toMatch(/head -c 32 \/dev\/urandom \| base64/);
    expect(snapshotDir(weak.dir)).toEqual({ passphrase: expect.any(String) });

    const random = track(makeTempHome());
    const file = writeTempFile(random.dir, 'pass', `${Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7)).toString('base64')}\n`);
    const ok = await random.run(['init', '--backend', 'file', '--passphrase-file', file]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('a passphrase file that others can read is refused with the chmod', async () => {
    const home = track(makeTempHome());
    const file = writeTempFile(home.dir, 'loose-pass', 'correct horse battery staple\n', 0o644);
    const r = await home.run(['init', '--backend', 'file', '--passphrase-file', file]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`chmod 600 '${file}'`);
  });
});
