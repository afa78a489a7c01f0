// DPoP from the command line: keygen, bound tokens, agents that require
// them, proofs for shell scripts, and token verify checking a proof.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, type TempHome } from '../helpers/cli.js';
import { snapshotDir } from '../helpers/snapshot.js';

let t: TempHome;
const URL_ = 'http://pack.lan:8080/restart';
const decode = (token: string, part = 1) => JSON.parse(Buffer.from(token.split('.')[part]!, 'base64url').toString());

beforeAll(async () => {
  t = await makeInitialisedHome();
  expect((await t.run(['agent', 'add', 'pi', '--scope', 'docker:restart:nginx', '--dpop'])).code).toBe(0);
  expect((await t.run(['agent', 'add', 'loose', '--scope', 'a:b'])).code).toBe(0);
});
afterAll(() => t.cleanup());

describe('dpop keygen', () => {
  it('writes a private JWK with mode 0600, prints its thumbprint, and never overwrites', async () => {
    const file = join(t.dir, 'pi.jwk');
    const r = await t.run(['dpop', 'keygen', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]{43}\n$/);
    expect(r.stderr).toMatch(/Wrote a private EdDSA DPoP key/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(readFileSync(file, 'utf8'));
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: r.stdout.trim() });
    expect(typeof jwk.d).toBe('string');
    const before = readFileSync(file, 'utf8');
    const again = await t.run(['dpop', 'keygen', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; refusing to overwrite/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    const es = await t.run(['dpop', 'keygen', join(t.dir, 'es.jwk'), '--alg', 'ES256', '--json']);
    expect(JSON.parse(es.stdout)).toMatchObject({ alg: 'ES256', jkt: expect.stringMatching(/^[\w-]{43}$/) });
    expect((await t.run(['dpop', 'keygen', join(t.dir, 'x.jwk'), '--alg', 'RS256'])).code).toBe(2);
  });
});

describe('DPoP-bound tokens', () => {
  it('--dpop-key and --dpop-jkt put cnf.jkt in the token; an agent that requires DPoP refuses a mint without one (exit 5)', async () => {
    const file = join(t.dir, 'pi.jwk');
    const jkt = JSON.parse(readFileSync(file, 'utf8')).kid;
    const bound = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-key', file]);
    expect(bound.code, bound.stderr).toBe(0);
    expect(decode(bound.stdout.trim()).cnf).toEqual({ jkt });
    const byJkt = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-jkt', jkt]);
    expect(decode(byJkt.stdout.trim()).cnf).toEqual({ jkt });
    const events = readFileSync(join(t.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(events.at(-1)).toMatchObject({ kind: 'token.mint', data: { agent: 'pi', jkt } });

    const refused = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan']);
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/agent "pi" may only hold DPoP-bound tokens/);
    expect(refused.stderr).toMatch(/--dpop-key FILE/);
    // A policy refusal is recorded (token.refuse); no token, no mint event.
    const afterRefusal = readFileSync(join(t.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(afterRefusal.at(-1)).toMatchObject({ kind: 'token.refuse', data: { agent: 'pi', reason: 'DPOP_REQUIRED' } });
    // Bad input is refused before anything is written.
    const before = snapshotDir(t.home);
    const badJkt = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-jkt', 'short']);
    expect(badJkt.code).toBe(2);
    const both = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-jkt', jkt, '--dpop-key', file]);
    expect(both.code).toBe(2);
    const missing = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-key', join(t.dir, 'nope.jwk')]);
    expect(missing.code).toBe(3);
    expect(snapshotDir(t.home)).toEqual(before);
    // Other agents may still hold unbound tokens.
    expect((await t.run(['token', 'mint', 'loose', '--aud', 'x'])).code).toBe(0);
    expect(JSON.parse((await t.run(['agent', 'update', 'pi', '--no-dpop', '--json'])).stdout).agent.dpop).toBeUndefined();
    expect((await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan'])).code).toBe(0);
    expect((await t.run(['agent', 'update', 'pi', '--dpop'])).code).toBe(0);
  });

  it('a hand-edited dpop flag that is not true is refused with the field named', async () => {
    const file = join(t.home, 'config.json');
    const original = readFileSync(file, 'utf8');
    try {
      const config = JSON.parse(original);
      config.agents.pi.dpop = 'no';
      writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
      const r = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan']);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/agents\.pi\.dpop/);
    } finally {
      writeFileSync(file, original, { mode: 0o600 });
    }
  });

  it('a key file other users can read is refused, and never echoed', async () => {
    const file = join(t.dir, 'open.jwk');
    writeFileSync(file, readFileSync(join(t.dir, 'pi.jwk')), { mode: 0o644 });
    const r = await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-key', file]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/chmod 600/);
    const d = JSON.parse(readFileSync(file, 'utf8')).d;
    expect(r.stderr).not.toContain(d);
    writeFileSync(join(t.dir, 'pub.jwk'), JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: JSON.parse(readFileSync(file, 'utf8')).x }), { mode: 0o600 });
    const pub = await t.run(['dpop', 'proof', '--key', join(t.dir, 'pub.jwk'), '--method', 'GET', '--url', URL_]);
    expect(pub.code).toBe(2);
    expect(pub.stderr).toMatch(/public key only/);
  });
});

describe('dpop proof and token verify --dpop-proof', () => {
  it('a shell script proves possession; token verify checks method, URL, token hash and key', async () => {
    const file = join(t.dir, 'pi.jwk');
    const token = (await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-key', file])).stdout.trim();
    const proof = await t.run(['dpop', 'proof', '--key', file, '--method', 'POST', '--url', `${URL_}?now=1#x`, '--token', token]);
    expect(proof.code, proof.stderr).toBe(0);
    const text = proof.stdout.trim();
    const header = decode(text, 0);
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } });
    expect(header.jwk.d).toBeUndefined();
    expect(decode(text)).toMatchObject({ htm: 'POST', htu: URL_, ath: expect.stringMatching(/^[\w-]{43}$/), jti: expect.any(String), iat: expect.any(Number) });

    const verify = (proofText: string, method: string, url: string) => t.run(['token', 'verify', token, '--aud', 'pack.lan', '--dpop-proof', proofText, '--method', method, '--url', url]);
    const ok = await verify(text, 'POST', URL_);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/dpop jkt\s+[\w-]{43}/);
    const wrongMethod = await verify(text, 'GET', URL_);
    expect(wrongMethod.code).toBe(1);
    expect(wrongMethod.stderr).toContain('ERR_DPOP_HTM_MISMATCH');
    expect((await verify(text, 'POST', 'http://pack.lan:8080/stop')).stderr).toContain('ERR_DPOP_HTU_MISMATCH');
    const other = (await t.run(['token', 'mint', 'pi', '--aud', 'pack.lan', '--dpop-key', file])).stdout.trim();
    const forOther = (await t.run(['dpop', 'proof', '--key', file, '--method', 'POST', '--url', URL_, '--token', other])).stdout.trim();
    expect((await verify(forOther, 'POST', URL_)).stderr).toContain('ERR_DPOP_ATH_MISMATCH');
    const es = join(t.dir, 'es.jwk');
    const byOtherKey = (await t.run(['dpop', 'proof', '--key', es, '--method', 'POST', '--url', URL_, '--token', token])).stdout.trim();
    expect((await verify(byOtherKey, 'POST', URL_)).stderr).toContain('ERR_DPOP_KEY_MISMATCH');
    // Without a proof, a bound token is not valid as a bearer token.
    const bare = await t.run(['token', 'verify', token, '--aud', 'pack.lan']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('ERR_DPOP_REQUIRED');
    expect((await t.run(['token', 'verify', token, '--dpop-proof', text])).code).toBe(2);
    const badUrl = await t.run(['dpop', 'proof', '--key', file, '--method', 'POST', '--url', 'pack.lan/x']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/absolute http/);
  });
});
