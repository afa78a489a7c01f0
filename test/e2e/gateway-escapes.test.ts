// Issue 8's escapes, each tried the way a hostile child would, through the
// built CLI with real servers: a plain-HTTP listener on a port bound as
// https, nginx with two name-based virtual hosts, an HTTPS upstream that
// returns the value compressed in every way. Every test here failed against
// the gateway before the fix (checked by running this file against that build).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { compactDecrypt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeScenario, mustRun, problem, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';
import { startPlainServer } from '../fixtures/gateway/upstream.js';
import { findNginx, startNginx, type Nginx } from '../fixtures/gateway/nginx.js';
import { PASSPHRASE, REPO_ROOT } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';

const RAW_CLIENT = join(REPO_ROOT, 'test/fixtures/gateway/raw-client.mjs');
const nginxBinary = findNginx();

let s: Scenario;
let plain: Awaited<ReturnType<typeof startPlainServer>>;
let nginx: Nginx | null = null;
let calls = 0;

beforeAll(async () => {
  s = await makeScenario();
  // Bound as https (the default), but what listens there speaks plain HTTP: anything sent in clear is seen.
  plain = await startPlainServer('127.0.0.3');
  await mustRun(s.home, ['secret', 'add', 'clear', '--host', `127.0.0.3:${plain.port}`, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'CLEAR_KEY'], { input: `${REAL_KEY}\n` });
  await mustRun(s.home, ['grant', 'coder', 'clear']);
  await mustRun(s.home, ['secret', 'add', 'wild', '--host', '*.wild.test', '--header', 'X-Wild', '--env', 'WILD_KEY'], { input: `${REAL_KEY}\n` });
  await mustRun(s.home, ['grant', 'coder', 'wild']);
  if (nginxBinary) {
    nginx = await startNginx({ dir: s.home.dir, binary: nginxBinary });
    await mustRun(s.home, ['secret', 'add', 'vh', '--host', nginx.authority, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'VH_KEY'], { input: `${REAL_KEY}\n` });
    await mustRun(s.home, ['grant', 'coder', 'vh', '--path', '/v1', '--method', 'GET']);
    // The same vhost without any path or method limit: only the target's host can send the value elsewhere.
    await mustRun(s.home, ['secret', 'add', 'vhany', '--host', nginx.authority, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'VHANY_KEY'], { input: `${REAL_KEY}\n` });
    await mustRun(s.home, ['grant', 'coder', 'vhany']);
  }
});
afterAll(async () => {
  await nginx?.close();
  await plain?.close();
  await s?.cleanup();
});

interface Fetched {
  status: string;
  headers: string;
  body: Buffer;
  stderr: string;
}

/** curl inside `agentauth run` (with $VARS of the child's environment in `args`); the answer as the child got it. */
async function curlInChild(args: string): Promise<Fetched> {
  const [fetched] = await curlAllInChild([args]);
  expectNoValue(fetched!);
  return fetched!;
}

/** Several curls, one after the other, in one `agentauth run` (each run costs a process start); each answer as the child got it. */
async function curlAllInChild(argsList: string[]): Promise<Fetched[]> {
  const dirs = argsList.map(() => {
    calls += 1;
    const dir = join(s.home.dir, `call-${calls}`);
    mkdirSync(dir);
    return dir;
  });
  const extra = nginx ? ['--upstream-ca', nginx.caFile] : [];
  const script = argsList.map((args, i) => `curl -sS --path-as-is -D "${dirs[i]}/h" -o "${dirs[i]}/b" -w '%{http_code}' ${args} > "${dirs[i]}/s" 2> "${dirs[i]}/e"`).join('; ');
  const result = await s.runShell(script, extra);
  expect(result.stdout + result.stderr).not.toContain(REAL_KEY);
  return dirs.map((dir) => {
    const read = (name: string) => {
      try {
        return readFileSync(join(dir, name));
      } catch {
        return Buffer.alloc(0);
      }
    };
    return { status: read('s').toString(), headers: read('h').toString('latin1'), body: read('b'), stderr: read('e').toString() };
  });
}

/** The real value in none of the child's bytes: status line, headers, body — nor in the body under any coding it might still carry. */
function expectNoValue(fetched: Fetched): void {
  expect(fetched.headers).not.toContain(REAL_KEY);
  expect(fetched.stderr).not.toContain(REAL_KEY);
  for (const body of decodings(fetched.body)) {
    expect(body.toString('latin1')).not.toContain(REAL_KEY);
    expect(body.toString('latin1')).not.toContain(Buffer.from(REAL_KEY).toString('base64'));
  }
}

/** `data` and whatever gzip, deflate and brotli decoding make of it, up to three layers deep. */
function decodings(data: Buffer, depth = 0): Buffer[] {
  const out = [data];
  if (depth === 3) return out;
  for (const decode of [gunzipSync, inflateSync, brotliDecompressSync]) {
    try {
      const decoded = decode(data);
      if (decoded.length > 0 && !decoded.equals(data)) out.push(...decodings(decoded, depth + 1));
    } catch {
      // Not in this coding.
    }
  }
  return out;
}

function gatewayEvents(): Record<string, unknown>[] {
  return readAuditLines(s.home).filter((line) => String(line['kind']).startsWith('gateway.'));
}

describe('1: cleartext to an https binding', () => {
  it('absolute-form http:// to a host:port bound as https is 403 scheme-mismatch; nothing is sent in clear', async () => {
    const before = plain.seen.length;
    const withValue = await curlInChild(`-x "$HTTP_PROXY" "http://127.0.0.3:${plain.port}/steal" -H "Authorization: Bearer $CLEAR_KEY"`);
    expect(withValue.status).toBe('403');
    expect(JSON.parse(withValue.body.toString())).toEqual(problem(403, 'scheme-mismatch'));
    const without = await curlInChild(`-x "$HTTP_PROXY" "http://127.0.0.3:${plain.port}/plain"`);
    expect(without.status).toBe('403');
    expect(plain.seen.length).toBe(before);
    expect(gatewayEvents().at(-1)).toMatchObject({ kind: 'gateway.deny', data: expect.objectContaining({ reason: 'scheme-mismatch', status: 403 }) });
  });
});

describe('2: another virtual host behind a terminated tunnel', () => {
  const raw = async (head: string) => {
    const result = await s.runShell(`"${process.execPath}" "${RAW_CLIENT}" "${nginx!.host}" "${nginx!.port}" '${head}'`, ['--upstream-ca', nginx!.caFile]);
    expect(result.stdout + result.stderr).not.toContain(REAL_KEY);
    const [statusLine = '', ...rest] = result.stdout.split('\n');
    return { statusLine, body: rest.join('\n') };
  };

  it('an absolute-form target naming another vhost is 403 host-mismatch; that vhost never sees the value', async (ctx) => {
    skipWithout(ctx, nginx ? null : 'nginx (apt-get install nginx-light)');
    const before = nginx!.seen('other').length;
    const answer = await raw(`GET https://other.test/models HTTP/1.1\\r\\nHost: ${nginx!.authority}\\r\\nAuthorization: Bearer $VHANY_KEY\\r\\nConnection: close\\r\\n\\r\\n`);
    expect(nginx!.seen('other').slice(before)).toEqual([]);
    expect(answer.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(JSON.parse(answer.body)).toEqual(problem(403, 'host-mismatch'));
  });

  it('a Host naming another vhost is 403 host-mismatch even without a placeholder', async (ctx) => {
    skipWithout(ctx, nginx ? null : 'nginx (apt-get install nginx-light)');
    const before = nginx!.seen('other').length;
    const answer = await raw(`GET /v1/models HTTP/1.1\\r\\nHost: other.test\\r\\nConnection: close\\r\\n\\r\\n`);
    expect(answer.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(JSON.parse(answer.body)).toEqual(problem(403, 'host-mismatch'));
    expect(nginx!.seen('other').length).toBe(before);
  });

  it('an origin-form request inside the grant reaches the bound vhost with the value (control)', async (ctx) => {
    skipWithout(ctx, nginx ? null : 'nginx (apt-get install nginx-light)');
    const answer = await raw(`GET /v1/models HTTP/1.1\\r\\nHost: ${nginx!.authority}\\r\\nAuthorization: Bearer $VH_KEY\\r\\nConnection: close\\r\\n\\r\\n`);
    expect(answer.statusLine).toBe('HTTP/1.1 200 OK');
    expect(answer.body).toContain('vhost=bound.test uri=/v1/models');
    expect(nginx!.seen('bound').at(-1)).toEqual({ authorization: `Bearer ${REAL_KEY}`, requestUri: '/v1/models', uri: '/v1/models' });
  });
});

describe('3: compressed answers from a bound host', () => {
  const url = (path: string) => `"https://${s.upstream.authority}${path}"`;
  const layered: [string, string][] = [
    ['two Content-Encoding headers (identity, then gzip)', '/stored?ce=identity|gzip'],
    ['a comma list (gzip, br)', '/stored?ce=gzip,br'],
    ['two headers with two codings (gzip | deflate)', '/stored?ce=gzip|deflate'],
    ['x-gzip', '/stored?ce=x-gzip'],
    ['deflate', '/stored?ce=deflate'],
    ['br', '/stored?ce=br'],
    ['Transfer-Encoding: gzip, chunked', '/stored?te=gzip'],
    ['Transfer-Encoding: gzip, chunked over Content-Encoding: br', '/stored?ce=br&te=gzip'],
  ];
  let answers: Fetched[] = [];
  beforeAll(async () => {
    const declined = `${url('/declined')} -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='`;
    answers = await curlAllInChild([`--compressed ${url('/stored?ce=gzip')}`, ...layered.map(([, path]) => url(path)), url('/stored?raw=compress'), declined]);
  });
  const STORED = /^stored=aa-ph-[a-z]+-[A-Za-z0-9]+\n$/;

  it('a stored value fetched without any placeholder, gzip-compressed, reaches the child as the placeholder', () => {
    expectNoValue(answers[0]!);
    expect(answers[0]!.status).toBe('200');
    expect(answers[0]!.body.toString()).toMatch(STORED);
  });

  layered.forEach(([title], i) => {
    it(`is decoded through every layer and scrubbed: ${title}`, () => {
      const fetched = answers[i + 1]!;
      expectNoValue(fetched);
      expect(fetched.status).toBe('200');
      expect(fetched.body.toString()).toMatch(STORED);
      expect(fetched.headers).not.toMatch(/content-encoding/i);
    });
  });

  it('a coding the gateway cannot decode is 502 undecodable-response', () => {
    const fetched = answers[layered.length + 1]!;
    expectNoValue(fetched);
    expect(fetched.status).toBe('502');
    expect(JSON.parse(fetched.body.toString())).toEqual(problem(502, 'undecodable-response'));
  });

  it('an Upgrade the upstream declines: its gzip body is decoded and scrubbed too', () => {
    const fetched = answers[layered.length + 2]!;
    expectNoValue(fetched);
    expect(fetched.status).toBe('200');
    expect(fetched.body.toString()).toMatch(/^declined=aa-ph-[a-z]+-[A-Za-z0-9]+\n$/);
  });
});

describe('4: path grants and method overrides', () => {
  const paths: [string, string][] = [
    ['an encoded slash', '/v1/..%2fadmin'],
    ['an encoded backslash', '/v1/..%5cadmin'],
    ['a ; parameter', '/v1/..;/admin'],
    ['encoded dot segments', '/v1/%2e%2e/admin'],
  ];
  const overrides = ['X-HTTP-Method-Override: DELETE', 'X-HTTP-Method: PUT', 'X-Method-Override: POST'];
  let answers: Fetched[] = [];
  let reached: { authorization: string; requestUri: string }[] = [];
  beforeAll(async () => {
    if (!nginx) return;
    const before = nginx.seen('bound').length;
    answers = await curlAllInChild([
      ...paths.map(([, path]) => `"https://${nginx!.authority}${path}" -H "Authorization: Bearer $VH_KEY"`),
      ...overrides.map((header) => `"https://${nginx!.authority}/v1/models" -H "Authorization: Bearer $VH_KEY" -H '${header}'`),
    ]);
    reached = nginx.seen('bound').slice(before);
  });

  paths.forEach(([title, path], i) => {
    it(`${title} cannot climb out of a grant limited to /v1: 403 not-granted, nginx sees nothing`, (ctx) => {
      skipWithout(ctx, nginx ? null : 'nginx (apt-get install nginx-light)');
      expect(reached.filter((line) => line.requestUri === path)).toEqual([]);
      expectNoValue(answers[i]!);
      expect(answers[i]!.status).toBe('403');
      expect(JSON.parse(answers[i]!.body.toString())).toEqual(problem(403, 'not-granted'));
    });
  });

  it('X-HTTP-Method-Override (and kin) cannot widen a GET-only grant', (ctx) => {
    skipWithout(ctx, nginx ? null : 'nginx (apt-get install nginx-light)');
    expect(reached).toEqual([]);
    overrides.forEach((header, i) => expect(answers[paths.length + i]!.status, header).toBe('403'));
  });
});

describe('5: base-URL mode', () => {
  it('the URL carries a run key of at least 128 bits, new for every run', async () => {
    const first = await s.runShell('printf %s "$UP_BASE_URL"');
    const second = await s.runShell('printf %s "$UP_BASE_URL"');
    const key = (url: string) => new URL(url).pathname.split('/')[2]!;
    expect(first.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_\/[A-Za-z0-9_-]+\/up$/);
    expect(Buffer.from(key(first.stdout), 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(key(first.stdout)).not.toBe(key(second.stdout));
  });

  it('another local user with the port and a placeholder (from argv) gets 401 and reaches nothing', async () => {
    // The child publishes what `ps` would show another user: the port and the placeholder.
    const before = s.upstream.seen.length;
    const result = await s.runShell(
      `P="\${HTTPS_PROXY##*@127.0.0.1:}"; for path in "/_/up/echo" "/_/not-the-key/up/echo" "/_/${'A'.repeat(32)}/up/echo"; do curl -sS -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $UP_KEY" "http://127.0.0.1:$P$path"; done`,
    );
    expect(result.stdout).toBe('401 401 401 ');
    expect(s.upstream.seen.length).toBe(before);
  });

  it('with the run key: the placeholder is swapped; without a placeholder the request goes on unchanged', async () => {
    const withKey = await curlInChild(`"$UP_BASE_URL/echo" -H "Authorization: Bearer $UP_KEY"`);
    expect(withKey.status).toBe('200');
    expect(s.upstream.seen.at(-1)?.headers['authorization']).toBe(`Bearer ${REAL_KEY}`);
    const without = await curlInChild(`"$UP_BASE_URL/echo"`);
    expect(without.status).toBe('401');
    expect(without.body.toString()).toBe('{"error":"bad key"}');
    expect(s.upstream.seen.at(-1)?.headers['authorization']).toBeUndefined();
  });

  it('only secrets declared with --base-url-env are served there (404 unknown-secret)', async () => {
    const fetched = await curlInChild(`"\${UP_BASE_URL%/up}/clear/x" -H "Authorization: Bearer $CLEAR_KEY"`);
    expect(fetched.status).toBe('404');
    expect(JSON.parse(fetched.body.toString())).toEqual(problem(404, 'unknown-secret'));
  });
});

describe('6: unauthenticated traffic', () => {
  it('is counted in run.end and writes no per-request audit event', async () => {
    const before = gatewayEvents().length;
    const result = await s.runShell(
      `P="http://127.0.0.1:\${HTTPS_PROXY##*@127.0.0.1:}"; for i in 1 2 3 4 5; do curl -s -o /dev/null "$P/_/nope-$i/x"; curl -s -o /dev/null "$P/not-a-proxy-request"; curl -s -o /dev/null -x "$P" "http://127.0.0.3:${plain.port}/"; curl -s -o /dev/null -p -x "$P" "https://${s.upstream.authority}/"; done; true`,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(gatewayEvents().length).toBe(before);
    const end = readAuditLines(s.home).filter((line) => line['kind'] === 'run.end').at(-1)!;
    expect(end['data']).toMatchObject({ unauthenticated: 20, requests: 0 });
  });
});

describe('9a: status line and header names', () => {
  it('the reason phrase and response header names are scrubbed', async () => {
    const fetched = await curlInChild(`"https://${s.upstream.authority}/reveal-names" -H "Authorization: Bearer $UP_KEY"`);
    expect(fetched.status).toBe('200');
    expect(fetched.headers).toMatch(/^HTTP\/1\.1 200 OK aa-ph-up-[A-Za-z0-9]+\r$/m);
    expect(fetched.headers).toMatch(/^x-aa-ph-up-[A-Za-z0-9]+: name\r$/m);
  });
});

describe('9f: leaf certificates for a wildcard binding', () => {
  it('CONNECTs to many subdomains leave a bounded number of keystore entries', async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `h${i}.wild.test`);
    await s.runShell(hosts.map((host) => `curl -s -o /dev/null "https://${host}/"`).join('; '), [], { timeoutMs: 60_000 });
    const keystore = readFileSync(join(s.home.home, 'keystore.jwe'), 'utf8').trim();
    const { plaintext } = await compactDecrypt(keystore, new TextEncoder().encode(PASSPHRASE), { keyManagementAlgorithms: ['PBES2-HS512+A256KW'], maxPBES2Count: 10_000_000 });
    const entries = Object.keys((JSON.parse(new TextDecoder().decode(plaintext)) as { entries: Record<string, string> }).entries);
    const leaves = entries.filter((name) => name.startsWith('ca-leaf/') && name.endsWith('.wild.test'));
    expect(leaves.length).toBeGreaterThan(0);
    expect(leaves.length).toBeLessThanOrEqual(8);
  });
});

// Not an escape, but the other half of escape 1: plain HTTP must be asked for, and then it works.
describe('plain-HTTP bindings, spelled out', () => {
  let local: Awaited<ReturnType<typeof startPlainServer>>;
  beforeAll(async () => {
    local = await startPlainServer('127.0.0.1');
    await mustRun(s.home, ['secret', 'add', 'local', '--host', `http://localhost:${local.port}`, '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'LOCAL_KEY', '--base-url-env', 'LOCAL_BASE_URL'], { input: `${REAL_KEY}\n` });
    await mustRun(s.home, ['grant', 'coder', 'local']);
  });
  afterAll(async () => {
    await local?.close();
  });

  it('are listed with their scheme', async () => {
    const list = await mustRun(s.home, ['secret', 'list']);
    expect(list.stdout).toContain(`http://localhost:${local.port}`);
    const json = JSON.parse((await mustRun(s.home, ['secret', 'list', '--json'])).stdout) as { secrets: { name: string; hosts: string[] }[] };
    expect(json.secrets.find((secret) => secret.name === 'local')?.hosts).toEqual([`http://localhost:${local.port}`]);
  });

  it('a loopback binding is taken out of NO_PROXY; absolute-form, a plain CONNECT tunnel and the base URL all swap', async () => {
    const result = await s.runShell(
      `printf '%s\\n' "$NO_PROXY"; for how in "" "-p"; do curl -sS $how -o /dev/null -w '%{http_code}\\n' "http://localhost:${local.port}/x" -H "Authorization: Bearer $LOCAL_KEY"; done; curl -sS -o /dev/null -w '%{http_code}\\n' "$LOCAL_BASE_URL/y" -H "Authorization: Bearer $LOCAL_KEY"`,
    );
    expect(result.stdout).toBe('127.0.0.1,::1\n200\n200\n200\n');
    expect(local.seen.slice(-3).map((seen) => seen.headers['authorization'])).toEqual([`Bearer ${REAL_KEY}`, `Bearer ${REAL_KEY}`, `Bearer ${REAL_KEY}`]);
    expect(local.seen.slice(-3).map((seen) => seen.url)).toEqual(['/x', '/x', '/y']);
  });
});
