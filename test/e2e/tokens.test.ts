// Agents and tokens through the built CLI: the happy path in both output
// modes, shell use, and every bad input with its code, exit status and an
// unchanged home.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, verify as verifyRaw } from 'node:crypto';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeInitialisedHome, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';

let t: TempHome;
beforeAll(async () => {
  t = await makeInitialisedHome();
  const add = await t.run(['agent', 'add', 'home-monitor', '--scope', 'docker:restart:*', 'email:send', '--max-ttl', '1h', '--aud', 'pack.lan', 'mail.lan']);
  expect(add.code, add.stderr).toBe(0);
});
afterAll(() => t.cleanup());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

async function mint(...extra: string[]): Promise<string> {
  const r = await t.run(['token', 'mint', 'home-monitor', '--aud', 'pack.lan', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('agents', () => {
  it('add, list, show and update in human and JSON form', async () => {
    const list = await t.run(['agent', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/NAME\s+SCOPES\s+MAX TTL/);
    expect(list.stdout).toMatch(/home-monitor\s+docker:restart:\* email:send\s+1h/);
    const json = JSON.parse((await t.run(['agent', 'show', 'home-monitor', '--json'])).stdout);
    expect(json).toMatchObject({ schemaVersion: 1, agent: { name: 'home-monitor', scopes: ['docker:restart:*', 'email:send'], maxTtl: 3600, audiences: ['pack.lan', 'mail.lan'] } });
    expect((await t.run(['agent', 'list', '--names'])).stdout).toBe('home-monitor\n');

    expect((await t.run(['agent', 'add', 'temp', '--scope', 'a:b'])).code).toBe(0);
    const up = await t.run(['agent', 'update', 'temp', '--add-scope', 'c:d', '--max-ttl', '10m', '--json']);
    expect(JSON.parse(up.stdout).agent).toMatchObject({ scopes: ['a:b', 'c:d'], maxTtl: 600 });
    const rm = await t.run(['agent', 'remove', 'temp']);
    expect(rm.code).toBe(0);
    expect((await t.run(['agent', 'show', 'temp'])).code).toBe(3);
  });

  it('invalid names are usage errors (exit 2) that state the rule', async () => {
    const before = snapshotDir(t.home);
    for (const name of ['Home', '_x', 'a b', 'a/b', 'x'.repeat(64)]) {
      const r = await t.run(['agent', 'add', name, '--scope', 'a:b']);
      expect(r.code, name).toBe(2);
      expect(r.stderr).toMatch(/invalid agent name/);
      expect(r.stderr).toMatch(/lowercase letters, digits/);
    }
    expect(snapshotDir(t.home)).toEqual(before);
  });

  it('unknown flags and bad durations are usage errors', async () => {
    const unknown = await t.run(['agent', 'add', 'x', '--scope', 'a', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--frobnicate'/);
    const ttl = await t.run(['agent', 'add', 'x', '--scope', 'a', '--max-ttl', '1w']);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toMatch(/90s, 15m, 1h, 7d/);
  });
});

describe('token mint and verify', () => {
  it('mint prints only the token; verify prints the claims', async () => {
    const token = await mint('--scope', 'docker:restart:nginx');
    expect(token.split('.')).toHaveLength(3);
    const claims = decode(token);
    expect(claims).toMatchObject({ iss: 'https://issuer.test', sub: 'agent:home-monitor', aud: 'pack.lan', scope: 'docker:restart:nginx' });
    expect(claims.exp - claims.iat).toBe(900);
    const r = await t.run(['token', 'verify', token, '--aud', 'pack.lan', '--scope', 'docker:restart:nginx']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^valid/);
    expect(r.stdout).toMatch(/sub\s+agent:home-monitor/);
    expect(r.stderr).toBe('');
  });

  it('--json for both, and verify reads the token from stdin', async () => {
    const r = await t.run(['token', 'mint', 'home-monitor', '--aud', 'mail.lan', '--scope', 'email:send', '--ttl', '5m', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['aud', 'exp', 'jti', 'kid', 'schemaVersion', 'scope', 'token']);
    expect(doc).toMatchObject({ aud: 'mail.lan', scope: 'email:send' });
    const v = await t.run(['token', 'verify', '-', '--aud', 'mail.lan', '--json'], { input: `${doc.token}\n` });
    expect(v.code, v.stderr).toBe(0);
    const verified = JSON.parse(v.stdout);
    expect(verified).toMatchObject({ schemaVersion: 1, valid: true, claims: { jti: doc.jti }, header: { kid: doc.kid, typ: 'at+jwt', alg: 'EdDSA' } });
  });

  it('works in a shell script: TOKEN=$(agentauth token mint …)', async () => {
    const script = `set -e; TOKEN=$(node "${BIN}" token mint home-monitor --aud pack.lan); node "${BIN}" token verify "$TOKEN" --aud pack.lan >/dev/null && echo "ok \${#TOKEN}"`;
    const r = await execa('bash', ['-c', script], { env: t.env, extendEnv: false, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok \d{3,}$/);
  });

  it('--on-behalf-of sets sub to the user and act to the agent', async () => {
    const claims = decode(await mint('--on-behalf-of', 'alice'));
    expect(claims.sub).toBe('user:alice');
    expect(claims.act).toEqual({ sub: 'agent:home-monitor' });
  });

  it('verifies with node:crypto alone from the printed JWKS, and the kid is the RFC 7638 thumbprint', async () => {
    const token = await mint();
    const jwks = JSON.parse((await t.run(['jwks'])).stdout);
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const jwk = jwks.keys.find((key: { kid: string }) => key.kid === header.kid);
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url')).toBe(jwk.kid);
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    expect(verifyRaw(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url'))).toBe(true);
  });

  it('verifies against a JWKS file and a JWKS URL (fetched once, then cached)', async () => {
    const token = await mint();
    const jwksText = (await t.run(['jwks'])).stdout;
    const file = join(t.dir, 'jwks.json');
    writeFileSync(file, jwksText);
    const byFile = await t.run(['token', 'verify', token, '--jwks', file, '--iss', 'https://issuer.test']);
    expect(byFile.code, byFile.stderr).toBe(0);

    let hits = 0;
    const server = createServer((_req, res) => {
      hits += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwksText);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    try {
      for (let i = 0; i < 3; i++) {
        const r = await t.run(['token', 'verify', token, '--jwks', url, '--aud', 'pack.lan']);
        expect(r.code, r.stderr).toBe(0);
      }
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });

  it('mint refuses anything beyond the entry with exit 5; only a token.refuse event is written', async () => {
    const cases = [
      [['--scope', 'docker:stop:nginx'], /may not hold "docker:stop:nginx"/],
      [['--scope', 'docker:*'], /may not hold "docker:\*"/],
      [['--ttl', '2h'], /longer than agent "home-monitor" may hold/],
    ] as const;
    for (const [extra, message] of cases) {
      const before = snapshotDir(t.home);
      const r = await t.run(['token', 'mint', 'home-monitor', '--aud', 'pack.lan', ...extra]);
      expect(r.code, extra.join(' ')).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      const after = snapshotDir(t.home);
      for (const file of Object.keys(before).filter((name) => !name.startsWith('audit.jsonl'))) expect(after[file], file).toBe(before[file]);
      const last = JSON.parse(readFileSync(join(t.home, 'audit.jsonl'), 'utf8').trim().split('\n').at(-1)!);
      expect(last).toMatchObject({ kind: 'token.refuse', data: { agent: 'home-monitor' } });
    }
    const aud = await t.run(['token', 'mint', 'home-monitor', '--aud', 'evil.lan']);
    expect(aud.code).toBe(5);
    expect(aud.stderr).toMatch(/audience "evil.lan"/);
    const unknown = await t.run(['token', 'mint', 'nobody', '--aud', 'pack.lan']);
    expect(unknown.code).toBe(3);
  });
});

describe('token verify rejects bad tokens with a stable code and exit 1', async () => {
  async function expectInvalid(token: string, code: string, extra: string[] = []) {
    const before = snapshotDir(t.home);
    const r = await t.run(['token', 'verify', token, '--aud', 'pack.lan', ...extra]);
    expect(r.code, `${code}: ${r.stderr}`).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(code);
    const json = await t.run(['token', 'verify', token, '--aud', 'pack.lan', '--json', ...extra]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ schemaVersion: 1, valid: false, error: { code } });
    expect(snapshotDir(t.home)).toEqual(before);
  }

  it('edited payload, flipped signature bit, alg none, HS256 with the public key', async () => {
    const token = await mint();
    const [h, p, s] = token.split('.');
    await expectInvalid(`${h}.${b64({ ...decode(token), scope: 'admin' })}.${s}`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const sig = Buffer.from(s!, 'base64url');
    sig[sig.length - 1]! ^= 0x01;
    await expectInvalid(`${h}.${p}.${sig.toString('base64url')}`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    await expectInvalid(`${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`, 'ERR_JOSE_ALG_NOT_ALLOWED');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const jwk = JSON.parse((await t.run(['jwks'])).stdout).keys[0];
    const { createHmac } = await import('node:crypto');
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })}.${p}`;
    const hsSig = createHmac('sha256', Buffer.from(jwk.x, 'base64url')).update(hsInput).digest('base64url');
    await expectInvalid(`${hsInput}.${hsSig}`, 'ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('keys come only from the pinned JWKS: a foreign key under a real kid, an unknown kid, jwk/jku headers, garbage', async () => {
    const signer = join(t.dir, 'sign.mjs');
    writeFileSync(
      signer,
      `import { SignJWT, importJWK } from '${join(process.cwd(), 'node_modules/jose/dist/webapi/index.js')}';
const [jwk, header, claims] = JSON.parse(process.argv[2]);
process.stdout.write(await new SignJWT(claims).setProtectedHeader(header).sign(await importJWK(jwk, 'EdDSA')));`,
    );
    const good = decode(await mint());
    const kid = JSON.parse(Buffer.from((await mint()).split('.')[0]!, 'base64url').toString()).kid;
    const { generateKeyPair, exportJWK } = await import('jose');
    const { privateKey } = await generateKeyPair('Ed25519', { extractable: true });
    const foreign = await exportJWK(privateKey);
    const sign = async (header: Record<string, unknown>, claims: Record<string, unknown>) =>
      (await execa('node', [signer, JSON.stringify([foreign, { alg: 'EdDSA', typ: 'at+jwt', kid, ...header }, claims])])).stdout;
    // A foreign key under the real kid fails on the signature: proves the kid is not trusted alone.
    await expectInvalid(await sign({}, good), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    await expectInvalid(await sign({ kid: 'no-such-kid' }, good), 'ERR_JWKS_NO_MATCHING_KEY');
    await expectInvalid(await sign({ jwk: { kty: 'OKP', crv: 'Ed25519', x: foreign.x } }, good), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await expectInvalid(await sign({ jku: 'https://evil.test/jwks.json' }, good), 'ERR_JOSE_HEADER_NOT_ALLOWED');
    await expectInvalid('garbage', 'ERR_JWS_INVALID');
    await expectInvalid('e30.e30.', 'ERR_JWS_INVALID');
  });

  it('wrong typ, expired, nbf in the future, wrong iss or aud, array aud, missing exp or jti, missing scope', async () => {
    // Claim checks run only after the signature verifies, so these tokens must be
    // signed by a key in the JWKS: use a JWKS file holding a test key.
    const { generateKeyPair, exportJWK, calculateJwkThumbprint, SignJWT } = await import('jose');
    const { privateKey, publicKey } = await generateKeyPair('Ed25519', { extractable: true });
    const pub = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(pub);
    const jwksFile = join(t.dir, 'test-jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...pub, kid, alg: 'EdDSA', use: 'sig' }] }));
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: 'https://issuer.test', sub: 'agent:x', aud: 'pack.lan', iat: now, exp: now + 300, jti: 'j1' };
    const sign = (claims: Record<string, unknown>, typ = 'at+jwt') => new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ, kid }).sign(privateKey);
    const withFile = ['--jwks', jwksFile, '--iss', 'https://issuer.test'];
    expect((await t.run(['token', 'verify', await sign(base), '--aud', 'pack.lan', ...withFile])).code).toBe(0);
    await expectInvalid(await sign(base, 'JWT'), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    await expectInvalid(await sign({ ...base, exp: now - 120 }), 'ERR_JWT_EXPIRED', withFile);
    await expectInvalid(await sign({ ...base, nbf: now + 600 }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    await expectInvalid(await sign({ ...base, iss: 'https://evil.test' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    await expectInvalid(await sign({ ...base, aud: 'other.lan' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    await expectInvalid(await sign({ ...base, aud: ['pack.lan', 'other.lan'] }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    const { exp: _e, ...noExp } = base;
    await expectInvalid(await sign(noExp), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    const { jti: _j, ...noJti } = base;
    await expectInvalid(await sign(noJti), 'ERR_JWT_CLAIM_VALIDATION_FAILED', withFile);
    await expectInvalid(await sign(base), 'ERR_SCOPE_MISSING', [...withFile, '--scope', 'email:send']);
  });
});

describe('token inspect and key rotation', () => {
  it('inspect decodes without verifying and says so on stderr', async () => {
    const token = await mint();
    const r = await t.run(['token', 'inspect', token]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WITHOUT verifying/);
    expect(JSON.parse(r.stdout).claims.sub).toBe('agent:home-monitor');
  });

  it('rotate keeps old tokens valid; retire removes the old key', async () => {
    const old = await mint();
    const oldKid = JSON.parse(Buffer.from(old.split('.')[0]!, 'base64url').toString()).kid;
    const rot = await t.run(['key', 'rotate', '--json']);
    expect(rot.code, rot.stderr).toBe(0);
    const { kid: newKid, previous } = JSON.parse(rot.stdout);
    expect(previous).toBe(oldKid);
    const jwks = JSON.parse((await t.run(['jwks'])).stdout);
    expect(jwks.keys.map((key: { kid: string }) => key.kid)).toEqual([newKid, oldKid]);
    expect((await t.run(['token', 'verify', old, '--aud', 'pack.lan'])).code).toBe(0);
    const fresh = await mint();
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
    expect((await t.run(['key', 'retire', newKid])).code).toBe(2);
    const retire = await t.run(['key', 'retire', oldKid]);
    expect(retire.code, retire.stderr).toBe(0);
    const after = await t.run(['token', 'verify', old, '--aud', 'pack.lan']);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('ERR_JWKS_NO_MATCHING_KEY');
    expect((await t.run(['key', 'retire', oldKid])).code).toBe(3);
    expect(readFileSync(join(t.home, 'config.json'), 'utf8')).not.toContain(oldKid);
  });
});
