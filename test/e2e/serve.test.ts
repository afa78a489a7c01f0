// `agentauth serve` as a real process in a fresh home on the file backend:
// unlock once, the mint socket that `token mint` uses by itself, the HTTP
// documents, config and key changes without a restart, and a clean stop.
import { execa, type Subprocess } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../../src/verify/index.js';
import { BIN, makeInitialisedHome, makeTempHome, PASSPHRASE, runAgentauth, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { startServe, type RunningServe } from '../helpers/serve.js';

const decode = (token: string, part = 1) => JSON.parse(Buffer.from(token.split('.')[part]!, 'base64url').toString());
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const r = await execa('curl', ['-s', '-i', ...args], { reject: false, stripFinalNewline: false });
  const [head, ...rest] = r.stdout.split(/\r?\n\r?\n/);
  const lines = head!.split(/\r?\n/);
  const headers = Object.fromEntries(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\n\n') };
}

/** One JSON request on the socket, one answer (or the raw text when it is not JSON). */
function ask(socket: string, line: string): Promise<Record<string, unknown> | string> {
  return new Promise((resolve, reject) => {
    const client = connect(socket);
    let text = '';
    client.setEncoding('utf8');
    client.on('connect', () => client.write(line));
    client.on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        client.end();
        try {
          resolve(JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>);
        } catch {
          resolve(text);
        }
      }
    });
    client.on('error', reject);
    client.on('close', () => resolve(text));
  });
}

/** A fresh initialised home with agent bot, and a serve on it, for one describe block. */
function servedHome(): { t: TempHome; serve: RunningServe } {
  const home = {} as { t: TempHome; serve: RunningServe };
  beforeAll(async () => {
    home.t = await makeInitialisedHome();
    await home.t.run(['agent', 'add', 'bot', '--scope', 'a:b']);
    home.serve = await startServe(home.t.env);
  });
  afterAll(async () => {
    await home.serve?.stop();
    home.t?.cleanup();
  });
  return home;
}

describe('a Pi shell script minting through serve', () => {
  let t: TempHome;
  let serve: RunningServe;
  let writer: Subprocess;
  let fifoEnv: Record<string, string>;
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await makeInitialisedHome();
    expect((await t.run(['agent', 'add', 'bot', '--scope', 'docker:restart:*', 'email:send', '--aud', 'pack.lan'])).code).toBe(0);
    // The passphrase comes from a FIFO that is written exactly once. serve's
    // unlock reads it; anything that tried to read it again (a mint that
    // unlocked by itself, serve re-reading for a rotated key) would block, as
    // nobody writes a second time, and fail on its timeout.
    const fifo = join(t.dir, 'passphrase.fifo');
    await execa('mkfifo', ['-m', '600', fifo]);
    writer = execa('sh', ['-c', `printf '%s\\n' "$PASS" > "${fifo}" && echo once > "${join(t.dir, 'reads')}"`], {
      env: { PASS: PASSPHRASE, PATH: process.env['PATH'] },
      extendEnv: false,
      reject: false,
    });
    fifoEnv = { ...t.env, AGENTAUTH_PASSPHRASE_FILE: fifo };
    serve = await startServe(fifoEnv);
  });
  afterAll(async () => {
    await serve?.stop();
    writer?.kill();
    t?.cleanup();
  });

  /** 'once' when the single write was taken (by serve's unlock) and the writer is gone. */
  const reads = () => (writer.exitCode === 0 ? readFileSync(join(t.dir, 'reads'), 'utf8').trim() : `writer still waiting (${writer.exitCode})`);

  it('50 token mint calls in a shell loop go through the socket; the passphrase is read once', async () => {
    const out = join(t.dir, 'tokens');
    const refusedErr = join(t.dir, 'refused.err');
    const script = `set -e
for i in $(seq 50); do timeout 30 node "${BIN}" token mint bot --aud pack.lan --scope docker:restart:nginx >> "${out}"; done
set +e
timeout 30 node "${BIN}" token mint bot --aud pack.lan --scope docker:stop:nginx 2> "${refusedErr}"; echo "refused=$?"`;
    const started = Date.now();
    const loop = await execa('bash', ['-c', script], { env: fifoEnv, extendEnv: false, reject: false, timeout: 120_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(loop.exitCode, loop.stderr).toBe(0);
    expect(loop.stdout.trim()).toBe('refused=5');
    expect(readFileSync(refusedErr, 'utf8')).toBe('error: agent "bot" may not hold "docker:stop:nginx"\n  hint: its entry allows: docker:restart:* email:send\n');
    expect(reads()).toBe('once');
    tokens.push(...readFileSync(out, 'utf8').trim().split('\n'));
    expect(tokens).toHaveLength(50);
    expect(serve.log().match(/ token\.mint /g)).toHaveLength(50);
    expect(serve.log()).toMatch(/ token\.refused agent=bot aud=pack\.lan code=SCOPE_NOT_ALLOWED/);
    console.info(`50 mints through serve in ${seconds.toFixed(1)} s`);
  });

  it('each token verifies; the log holds exactly 50 token.mint events and verifies', async () => {
    const jwks = JSON.parse((await t.run(['jwks'])).stdout);
    const verifier = createVerifier({ issuer: 'https://issuer.test', audience: 'pack.lan', jwks, scopes: ['docker:restart:nginx'] });
    const jtis = new Set<string>();
    for (const token of tokens) jtis.add((await verifier.verify(token)).jti);
    expect(jtis.size).toBe(50);
    const events = readFileSync(join(t.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const mints = events.filter((event) => event.kind === 'token.mint');
    expect(mints).toHaveLength(50);
    expect(new Set(mints.map((event) => event.data.jti))).toEqual(jtis);
    expect(mints[0]).toMatchObject({ actor: { sub: 'user:tester' }, data: { agent: 'bot', aud: 'pack.lan', scope: 'docker:restart:nginx' } });
    const verify = await t.run(['audit', 'verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('policy from config applies without a restart, and refusals keep exit 5', async () => {
    expect((await t.run(['agent', 'update', 'bot', '--remove-scope', 'email:send'])).code).toBe(0);
    const refused = await runAgentauth(['token', 'mint', 'bot', '--aud', 'pack.lan', '--scope', 'email:send', '--json'], fifoEnv);
    expect(refused.code).toBe(5);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, error: { code: 'SCOPE_NOT_ALLOWED' } });
    expect(serve.log()).toMatch(/config\.reload/);
    expect((await t.run(['agent', 'add', 'strict', '--scope', 'a:b', '--dpop'])).code).toBe(0);
    // Updating an agent without --dpop leaves the requirement as it was.
    expect(JSON.parse((await t.run(['agent', 'update', 'strict', '--max-ttl', '30m', '--json'])).stdout).agent.dpop).toBe(true);
    expect(JSON.parse((await t.run(['agent', 'show', 'bot', '--json'])).stdout).agent.dpop).toBeUndefined();
    const unbound = await runAgentauth(['token', 'mint', 'strict', '--aud', 'x'], fifoEnv);
    expect(unbound.code).toBe(5);
    expect(unbound.stderr).toMatch(/may only hold DPoP-bound tokens/);
    const noAgent = await runAgentauth(['token', 'mint', 'ghost', '--aud', 'x'], fifoEnv);
    expect(noAgent.code).toBe(3);
    expect(reads()).toBe('once');
  });

  it('key rotate is served and used for minting without a restart, and without asking for the passphrase again', async () => {
    const before = await curl([`${serve.url}/.well-known/jwks.json`]);
    const oldKid = JSON.parse(before.body).keys[0].kid;
    const rotate = await t.run(['key', 'rotate', '--json']);
    expect(rotate.code, rotate.stderr).toBe(0);
    const newKid = JSON.parse(rotate.stdout).kid;
    const after = await curl([`${serve.url}/.well-known/jwks.json`]);
    expect(JSON.parse(after.body).keys.map((key: { kid: string }) => key.kid)).toEqual([newKid, oldKid]);
    expect(after.headers['etag']).not.toBe(before.headers['etag']);
    expect((await curl(['-H', `If-None-Match: ${before.headers['etag']}`, `${serve.url}/.well-known/jwks.json`])).status).toBe(200);
    const minted = await runAgentauth(['token', 'mint', 'bot', '--aud', 'pack.lan', '--scope', 'docker:restart:nginx'], fifoEnv);
    expect(minted.code, minted.stderr).toBe(0);
    expect(decode(minted.stdout.trim(), 0).kid).toBe(newKid);
    expect(serve.log()).toContain(`key.load kid=${newKid}`);
    expect(reads()).toBe('once');
  });

  it('status shows the serve', async () => {
    const status = JSON.parse((await t.run(['status', '--json'])).stdout);
    expect(status.serve).toMatchObject({ up: true, pid: serve.child.pid, http: serve.url, socket: join(t.home, 'serve.sock') });
  });
});

describe('the mint socket', () => {
  const home = servedHome();

  it('is 0600 in a 0700 folder; another uid gets EACCES', async (context) => {
    const socket = join(home.t.home, 'serve.sock');
    expect(home.serve.socket).toBe(socket);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(statSync(home.t.home).mode & 0o777).toBe(0o700);
    skipWithout(context, isRoot ? null : 'root, to switch to the nobody user with setpriv');
    // A second serve whose socket sits in a folder everyone may enter: the socket's own mode must hold.
    const open = mkdtempSync(join(tmpdir(), 'agentauth-open-'));
    chmodSync(open, 0o755);
    const exposed = await startServe(home.t.env, ['--no-http', '--socket', join(open, 's.sock')]);
    try {
      expect(exposed.log()).toMatch(/serve\.warning .*can be entered by other users/);
      expect(statSync(join(open, 's.sock')).mode & 0o777).toBe(0o600);
      const probe = (path: string) =>
        execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print("CONNECTED")\nexcept OSError as e: print(e.errno)', path], { reject: false });
      expect((await probe(socket)).stdout).toBe('13');
      expect((await probe(join(open, 's.sock'))).stdout).toBe('13');
    } finally {
      await exposed.stop();
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('answers garbage with a usage error, drops oversized lines, and keeps serving', async () => {
    expect(await ask(home.serve.socket, 'not json\n')).toMatchObject({ ok: false, code: 'BAD_REQUEST', exit: 2 });
    expect(await ask(home.serve.socket, '{"op":"delete-everything"}\n')).toMatchObject({ ok: false, code: 'BAD_REQUEST', exit: 2 });
    expect(await ask(home.serve.socket, '{"op":"mint","agent":"bot","aud":["a","b"]}\n')).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    expect(await ask(home.serve.socket, `{"op":"mint","agent":"${'x'.repeat(70_000)}"`)).toMatchObject({ ok: false, code: 'REQUEST_TOO_LARGE' });
    expect(await ask(home.serve.socket, '{"op":"mint","agent":"../../etc","aud":"x"}\n')).toMatchObject({ ok: false, code: 'BAD_NAME', exit: 2 });
    expect(await ask(home.serve.socket, '{"op":"ping"}\n')).toMatchObject({ ok: true, pid: home.serve.child.pid });
    const minted = await ask(home.serve.socket, '{"op":"mint","agent":"bot","aud":"x","ttl":"5m"}\n');
    expect(minted).toMatchObject({ ok: true, aud: 'x', scope: 'a:b' });
    expect(Object.keys(minted as object)).toEqual(['ok', 'token', 'jti', 'kid', 'exp', 'scope', 'aud']);
  });

  it('concurrent mints are all answered, and an answer means the event is on disk, even across kill -9', async () => {
    const before = readFileSync(join(home.t.home, 'audit.jsonl'), 'utf8').trim().split('\n').length;
    const answers = await Promise.all(Array.from({ length: 30 }, () => ask(home.serve.socket, '{"op":"mint","agent":"bot","aud":"x"}\n')));
    expect(answers.every((answer) => typeof answer === 'object' && answer['ok'] === true)).toBe(true);
    const lines = readFileSync(join(home.t.home, 'audit.jsonl'), 'utf8').trim().split('\n');
    const logged = new Set(lines.map((line) => JSON.parse(line)).filter((event) => event.kind === 'token.mint').map((event) => event.data.jti));
    for (const answer of answers) expect(logged.has((answer as { jti: string }).jti)).toBe(true);
    expect(lines.length).toBe(before + 30);

    // A serve killed while mints are in flight: whatever it answered is in the log.
    const victim = await startServe(home.t.env, ['--no-http', '--socket', join(home.t.dir, 'k.sock')]);
    const inFlight = Array.from({ length: 40 }, (_, i) =>
      new Promise<unknown>((resolve) => setTimeout(resolve, i * 2)).then(() => ask(join(home.t.dir, 'k.sock'), '{"op":"mint","agent":"bot","aud":"x"}\n').catch(() => 'refused')),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    victim.child.kill('SIGKILL');
    const settled = await Promise.all(inFlight);
    const answered = settled.filter((answer): answer is { ok: true; jti: string } => typeof answer === 'object' && answer !== null && (answer as { ok?: unknown }).ok === true);
    const after = new Set(readFileSync(join(home.t.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((event) => event.kind === 'token.mint').map((event) => event.data.jti));
    for (const answer of answered) expect(after.has(answer.jti)).toBe(true);
    // The next append (this mint) repairs anything half-written; the log verifies.
    expect((await home.t.run(['token', 'mint', 'bot', '--aud', 'x', '--direct'])).code).toBe(0);
    const verify = await home.t.run(['audit', 'verify', '--json']);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('a second serve on the same socket is refused; a socket left by a killed serve is replaced', async () => {
    const second = await runAgentauth(['serve', '--no-http'], home.t.env);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another agentauth serve is already listening/);
    const victim = await startServe(home.t.env, ['--no-http', '--socket', join(home.t.dir, 'v.sock')]);
    victim.child.kill('SIGKILL');
    await victim.exited;
    expect(existsSync(join(home.t.dir, 'v.sock'))).toBe(true);
    // token mint finds nobody there and unlocks by itself.
    const direct = await runAgentauth(['token', 'mint', 'bot', '--aud', 'x'], { ...home.t.env, AGENTAUTH_SOCK: join(home.t.dir, 'v.sock') });
    expect(direct.code, direct.stderr).toBe(0);
    const again = await startServe(home.t.env, ['--no-http', '--socket', join(home.t.dir, 'v.sock')]);
    expect(await again.stop('SIGINT')).toBe(0);
    expect(again.log()).toMatch(/serve\.stop reason=SIGINT/);
    expect(existsSync(join(home.t.dir, 'v.sock'))).toBe(false);
  });

  it('a socket that belongs to another user is never used: token mint says so and mints directly', async (context) => {
    skipWithout(context, isRoot ? null : 'root, to create a socket as the nobody user');
    const open = mkdtempSync(join(tmpdir(), 'agentauth-fake-'));
    chmodSync(open, 0o777);
    const path = join(open, 'fake.sock');
    const fake = execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/python3', '-u', '-c',
      'import os,socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\nos.chmod(sys.argv[1],0o777)\ns.listen()\nprint("ready")\ns.settimeout(5)\ntry:\n c,_=s.accept(); print("got", c.recv(100))\nexcept OSError: print("nothing")', path], { reject: false });
    try {
      await new Promise<void>((resolve) => fake.stdout!.on('data', (chunk) => String(chunk).includes('ready') && resolve()));
      const mint = await runAgentauth(['token', 'mint', 'bot', '--aud', 'x'], { ...home.t.env, AGENTAUTH_SOCK: path });
      expect(mint.code, mint.stderr).toBe(0);
      expect(mint.stderr).toMatch(/ignoring the serve socket .*belongs to uid 65534/);
      expect((await fake).stdout).toContain('nothing');
    } finally {
      fake.kill();
      rmSync(open, { recursive: true, force: true });
    }
  });
});

describe('token mint with and without serve', () => {
  it('serve stopped: the same output shape, the same refusals, from a direct mint', async () => {
    const t = await makeInitialisedHome();
    try {
      await t.run(['agent', 'add', 'bot', '--scope', 'a:*', 'b:c']);
      const serve = await startServe(t.env, ['--no-http']);
      const scenario = async () => ({
        text: await t.run(['token', 'mint', 'bot', '--aud', 'x']),
        json: await t.run(['token', 'mint', 'bot', '--aud', 'x', '--scope', 'a:1', 'b:c', '--ttl', '10m', '--on-behalf-of', 'alice', '--json']),
        refused: await t.run(['token', 'mint', 'bot', '--aud', 'x', '--scope', 'z:z', '--json']),
        badTtl: await t.run(['token', 'mint', 'bot', '--aud', 'x', '--ttl', '2w']),
        // Argv the fast path leaves to the full command ('--') still goes through serve.
        verbose: await t.run(['token', 'mint', '--aud', 'x', 'bot', '--scope', 'a:2', '--']),
      });
      const through = await scenario();
      expect(serve.log().match(/ token\.mint /g)).toHaveLength(3);
      const direct = await t.run(['token', 'mint', 'bot', '--aud', 'x', '--direct']);
      expect(direct.code).toBe(0);
      expect(serve.log().match(/ token\.mint /g)).toHaveLength(3);
      expect(await serve.stop()).toBe(0);
      expect(existsSync(join(t.home, 'serve.sock'))).toBe(false);
      const alone = await scenario();
      for (const key of ['text', 'json', 'refused', 'badTtl', 'verbose'] as const) {
        expect(through[key].code, key).toBe(alone[key].code);
      }
      expect(through.text.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect(alone.text.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const a = JSON.parse(through.json.stdout);
      const b = JSON.parse(alone.json.stdout);
      expect(Object.keys(a)).toEqual(['schemaVersion', 'token', 'jti', 'kid', 'exp', 'scope', 'aud']);
      expect(Object.keys(b)).toEqual(Object.keys(a));
      expect({ ...a, token: 0, jti: 0, exp: 0 }).toEqual({ ...b, token: 0, jti: 0, exp: 0 });
      const claims = (doc: { token: string }) => ({ ...decode(doc.token), jti: 0, iat: 0, nbf: 0, exp: 0 });
      expect(claims(a)).toEqual(claims(b));
      expect(decode(a.token).exp - decode(a.token).iat).toBe(600);
      expect(through.refused.stdout).toBe(alone.refused.stdout);
      expect(through.refused.stderr).toBe(alone.refused.stderr);
      expect(through.refused.code).toBe(5);
      expect(through.badTtl.stderr).toBe(alone.badTtl.stderr);
      expect(through.badTtl.code).toBe(2);
      const status = JSON.parse((await t.run(['status', '--json'])).stdout);
      expect(status.serve).toMatchObject({ up: false });
    } finally {
      t.cleanup();
    }
  });
});

describe('serve over HTTP', () => {
  const home = servedHome();

  it('curl gets the JWKS with a strong ETag and Cache-Control, and a 304 for If-None-Match', async () => {
    const first = await curl([`${home.serve.url}/.well-known/jwks.json`]);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/jwk-set+json');
    expect(first.headers['cache-control']).toBe('public, max-age=600');
    expect(first.headers['etag']).toMatch(/^"[\w-]{43}"$/);
    expect(JSON.parse(first.body)).toEqual(JSON.parse((await home.t.run(['jwks'])).stdout));
    const again = await curl(['-H', `If-None-Match: ${first.headers['etag']}`, `${home.serve.url}/.well-known/jwks.json`]);
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers['etag']).toBe(first.headers['etag']);
    const weak = await curl(['-H', `If-None-Match: "x", W/${first.headers['etag']}`, `${home.serve.url}/.well-known/jwks.json`]);
    expect(weak.status).toBe(304);
    const head = await curl(['-I', `${home.serve.url}/.well-known/jwks.json`]);
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(first.body));
  });

  it('discovery documents name the issuer, the JWKS URL and the DPoP algorithms', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const r = await curl([`${home.serve.url}${path}`]);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ issuer: 'https://issuer.test', jwks_uri: 'https://issuer.test/.well-known/jwks.json', dpop_signing_alg_values_supported: ['EdDSA', 'ES256'] });
    }
    // The issuer is not serve's URL here: serve said so at start, with the fix.
    expect(home.serve.log()).toMatch(new RegExp(`serve\\.warning .*not this server's URL.*agentauth config set issuer ${home.serve.url!.replace(/[.]/g, '\\.')}`));
  });

  it('the latest signed checkpoint as text, a health check, and RFC 9457 problems for everything else', async () => {
    const none = await curl([`${home.serve.url}/checkpoint`]);
    expect(none.status).toBe(404);
    expect(none.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(none.body)).toMatchObject({ status: 404, title: 'Not Found', detail: expect.stringMatching(/no signed checkpoint yet/) });
    const signed = await home.t.run(['audit', 'checkpoint', '--json']);
    expect(signed.code, signed.stderr).toBe(0);
    const checkpoint = await curl([`${home.serve.url}/checkpoint`]);
    expect(checkpoint.status).toBe(200);
    expect(checkpoint.headers['content-type']).toBe('text/plain; charset=utf-8');
    const lines = readFileSync(join(home.t.home, 'audit.jsonl'), 'utf8').trim().split('\n');
    expect(checkpoint.body).toBe(JSON.parse(lines.at(-1)!).note);
    expect(checkpoint.body).toMatch(/^agentauth\.local\/\w+\n\d+\n\S+\n\n— /);
    // Another machine keeps the note and later checks the log against it.
    writeFileSync(join(home.t.dir, 'kept.note'), checkpoint.body);
    await home.t.run(['token', 'mint', 'bot', '--aud', 'x', '--direct']);
    expect((await home.t.run(['audit', 'verify', '--trusted', join(home.t.dir, 'kept.note')])).code).toBe(0);

    const health = await curl([`${home.serve.url}/healthz`]);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    const missing = await curl([`${home.serve.url}/admin`]);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ type: 'about:blank', status: 404 });
    const post = await curl(['-X', 'POST', `${home.serve.url}/.well-known/jwks.json`]);
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
  });

  it("jose's createRemoteJWKSet verifies against the served URL", async () => {
    const token = (await home.t.run(['token', 'mint', 'bot', '--aud', 'x'])).stdout.trim();
    const keys = createRemoteJWKSet(new URL(`${home.serve.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, keys, { issuer: 'https://issuer.test', audience: 'x', algorithms: ['EdDSA'], typ: 'at+jwt' });
    expect(payload.sub).toBe('agent:bot');
  });

  it('token verify --jwks URL fetches again for an unknown kid after a rotation (not 10 minutes later)', async () => {
    const url = `${home.serve.url}/.well-known/jwks.json`;
    const first = (await home.t.run(['token', 'mint', 'bot', '--aud', 'x'])).stdout.trim();
    expect((await home.t.run(['token', 'verify', first, '--jwks', url])).code).toBe(0);
    expect((await home.t.run(['key', 'rotate'])).code).toBe(0);
    const second = (await home.t.run(['token', 'mint', 'bot', '--aud', 'x'])).stdout.trim();
    // The cached set is younger than 30 s: the unknown kid may not be fetched yet.
    const early = await home.t.run(['token', 'verify', second, '--jwks', url]);
    const cache = join(home.t.home, 'cache');
    if (early.code !== 0) {
      expect(early.stderr).toContain('ERR_JWKS_NO_MATCHING_KEY');
      // Age the stored fetch past the cool-down, as 30 s of waiting would.
      for (const file of (await import('node:fs')).readdirSync(cache)) {
        const entry = JSON.parse(readFileSync(join(cache, file), 'utf8'));
        writeFileSync(join(cache, file), JSON.stringify({ ...entry, fetchedAt: entry.fetchedAt - 31_000 }), { mode: 0o600 });
      }
    }
    const later = await home.t.run(['token', 'verify', second, '--jwks', url]);
    expect(later.code, later.stderr).toBe(0);
    // Over plain http:// to a host that is not loopback, it warns (0.0.0.0 reaches this machine on Linux).
    const remote = await home.t.run(['token', 'verify', second, '--jwks', url.replace('127.0.0.1', '0.0.0.0')]);
    expect(remote.stderr).toMatch(/warning: fetching the JWKS over plain http:\/\/ from 0\.0\.0\.0/);
  });
});

describe('serve on the keychain backend', () => {
  it('reads its keys from the Secret Service once, and a rotated key again, with no passphrase anywhere', async (context) => {
    const bus = process.env['DBUS_SESSION_BUS_ADDRESS'];
    skipWithout(context, bus && process.env['AGENTAUTH_TEST_SECRET_SERVICE'] ? null : 'a Secret Service (run under .ci/with-keyring.sh)');
    const t = makeTempHome({ DBUS_SESSION_BUS_ADDRESS: bus });
    try {
      expect((await t.run(['init', '--backend', 'keychain'])).code).toBe(0);
      await t.run(['agent', 'add', 'bot', '--scope', 'a:b']);
      const serve = await startServe(t.env, ['--no-http']);
      try {
        const first = await t.run(['token', 'mint', 'bot', '--aud', 'x']);
        expect(first.code, first.stderr).toBe(0);
        const rotate = await t.run(['key', 'rotate', '--json']);
        expect(rotate.code, rotate.stderr).toBe(0);
        const second = await t.run(['token', 'mint', 'bot', '--aud', 'x']);
        expect(decode(second.stdout.trim(), 0).kid).toBe(JSON.parse(rotate.stdout).kid);
        expect(serve.log().match(/ token\.mint /g)).toHaveLength(2);
      } finally {
        await serve.stop();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('serve start and stop', () => {
  it('a wrong passphrase is exit 4 and leaves no socket; no passphrase source at all says which to set', async () => {
    const t = await makeInitialisedHome();
    try {
      writeFileSync(join(t.dir, 'wrong'), 'not the passphrase\n', { mode: 0o600 });
      const wrong = await runAgentauth(['serve', '--no-http'], { ...t.env, AGENTAUTH_PASSPHRASE_FILE: join(t.dir, 'wrong') });
      expect(wrong.code).toBe(4);
      expect(wrong.stderr).toMatch(/wrong passphrase/);
      expect(existsSync(join(t.home, 'serve.sock'))).toBe(false);
      const none = await runAgentauth(['serve', '--no-http'], t.env, { env: { AGENTAUTH_PASSPHRASE_FILE: undefined } });
      expect(none.code).toBe(4);
      expect(none.stderr).toMatch(/AGENTAUTH_PASSPHRASE_FILE/);
      const badListen = await t.run(['serve', '--listen', 'nowhere']);
      expect(badListen.code).toBe(2);
      expect(badListen.stderr).toMatch(/ADDR:PORT/);
    } finally {
      t.cleanup();
    }
  });

  it('--idle-lock forgets the keys and stops after a while without a mint', async () => {
    const t = await makeInitialisedHome();
    try {
      await t.run(['agent', 'add', 'bot', '--scope', 'a:b']);
      const serve = await startServe(t.env, ['--no-http', '--idle-lock', '2s']);
      expect((await t.run(['token', 'mint', 'bot', '--aud', 'x'])).code).toBe(0);
      const code = await Promise.race([serve.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000))]);
      expect(code).toBe(0);
      expect(serve.log()).toMatch(/serve\.locked reason=idle-lock idle-for=2s/);
      expect(existsSync(join(t.home, 'serve.sock'))).toBe(false);
    } finally {
      t.cleanup();
    }
  });

  it('config set issuer changes the iss of new tokens, and serve publishes it without a restart', async () => {
    const t = await makeInitialisedHome();
    try {
      await t.run(['agent', 'add', 'bot', '--scope', 'a:b']);
      const serve = await startServe(t.env);
      try {
        const bad = await t.run(['config', 'set', 'issuer', 'not a uri']);
        expect(bad.code).toBe(2);
        const set = await t.run(['config', 'set', 'issuer', serve.url!]);
        expect(set.code, set.stderr).toBe(0);
        expect(set.stderr).toMatch(/new tokens carry iss/);
        expect((await t.run(['config', 'get', 'issuer'])).stdout).toBe(`${serve.url}\n`);
        expect(JSON.parse((await t.run(['config', 'list', '--json'])).stdout).settings).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'issuer', value: serve.url, set: true })]));
        expect((await t.run(['config', 'get', 'nope'])).code).toBe(2);
        expect((await t.run(['config', 'unset', 'issuer'])).code).toBe(2);
        const meta = JSON.parse((await curl([`${serve.url}/.well-known/openid-configuration`])).body);
        expect(meta).toMatchObject({ issuer: serve.url, jwks_uri: `${serve.url}/.well-known/jwks.json` });
        const token = (await t.run(['token', 'mint', 'bot', '--aud', 'x'])).stdout.trim();
        expect(decode(token).iss).toBe(serve.url);
        const events = readFileSync(join(t.home, 'audit.jsonl'), 'utf8');
        expect(events).toContain('"kind":"config.set"');
      } finally {
        await serve.stop();
      }
    } finally {
      t.cleanup();
    }
  });
});
