// Exfiltration attempts: the placeholder sent anywhere but the declared place
// on a bound host, or outside the grant, is refused with 403 and a
// gateway.deny event, and the real value never leaves the gateway.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeScenario, problem, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';
import { startPlainServer } from '../fixtures/gateway/upstream.js';
import { BIN, REPO_ROOT } from '../helpers/cli.js';

const RAW_CLIENT = join(REPO_ROOT, 'test/fixtures/gateway/raw-client.mjs');

let s: Scenario;
let plain: Awaited<ReturnType<typeof startPlainServer>>;

beforeAll(async () => {
  // The grant narrows the secret: GET only, under /echo only.
  s = await makeScenario({ grantArgs: ['--method', 'GET', '--path', '/echo'] });
  plain = await startPlainServer('127.0.0.3');
});
afterAll(async () => {
  await plain?.close();
  await s?.cleanup();
});

function auditLines(): Record<string, unknown>[] {
  return readAuditLines(s.home);
}

function denials(): { reason: string; method: string; path: string; status: number }[] {
  return auditLines()
    .filter((line) => line['kind'] === 'gateway.deny')
    .map((line) => line['data'] as { reason: string; method: string; path: string; status: number });
}

/** Runs curl in the child; prints "<status>\n<body>". */
async function curlThrough(args: string, extra: string[] = []): Promise<{ status: string; body: Record<string, string>; stdout: string; stderr: string }> {
  const result = await s.runShell(`curl -sS --path-as-is -o "$HOME/body.json" -w '%{http_code}' ${args}; echo; cat "$HOME/body.json"; rm -f "$HOME/body.json"`, extra, {});
  const [status = '', ...rest] = result.stdout.split('\n');
  let body: Record<string, string> = {};
  try {
    body = JSON.parse(rest.join('\n')) as Record<string, string>;
  } catch {
    body = {};
  }
  expect(result.stdout).not.toContain(REAL_KEY);
  return { status, body, stdout: result.stdout, stderr: result.stderr };
}

describe('placeholder in the wrong place', () => {
  const cases: [string, string, () => string][] = [
    ['to a host the secret is not bound to (plain http)', 'placeholder-misplaced', () => `"http://127.0.0.3:${plain.port}/" -H "Authorization: Bearer $UP_KEY"`],
    ['in another header of the bound host', 'placeholder-misplaced', () => `"https://${s.upstream.authority}/echo" -H "X-Other: $UP_KEY"`],
    ['in the query string', 'placeholder-misplaced', () => `"https://${s.upstream.authority}/echo?k=$UP_KEY" -H "Authorization: Bearer $UP_KEY"`],
    ['base64-wrapped in a Basic header', 'placeholder-misplaced', () => `"https://${s.upstream.authority}/echo" -u "user:$UP_KEY"`],
    ['with a method outside the grant', 'not-granted', () => `-X POST "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`],
    ['on a path outside the grant', 'not-granted', () => `"https://${s.upstream.authority}/admin" -H "Authorization: Bearer $UP_KEY"`],
    ['with dot segments that climb out of the granted path', 'not-granted', () => `"https://${s.upstream.authority}/echo/../admin" -H "Authorization: Bearer $UP_KEY"`],
    ['with a Host header naming another virtual host', 'host-mismatch', () => `"https://${s.upstream.authority}/echo" -H "Host: evil.example" -H "Authorization: Bearer $UP_KEY"`],
  ];
  for (const [title, reason, args] of cases) {
    it(`is refused ${title}: 403 ${reason}, nothing reaches the upstream`, async () => {
      const seenBefore = s.upstream.seen.length;
      const plainBefore = plain.seen.length;
      const deniedBefore = denials().length;
      const result = await curlThrough(args());
      expect(result.status, result.stderr).toBe('403');
      expect(result.body).toEqual(problem(403, reason));
      expect(s.upstream.seen.length).toBe(seenBefore);
      expect(plain.seen.length).toBe(plainBefore);
      const newDenials = denials().slice(deniedBefore);
      expect(newDenials).toHaveLength(1);
      expect(newDenials[0]).toMatchObject({ reason, status: 403 });
      expect(newDenials[0]!.path).not.toContain('?');
    });
  }

  it('the same request inside the grant goes through (control)', async () => {
    const result = await curlThrough(`"https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.status).toBe('200');
    expect(s.upstream.seen.at(-1)?.headers['authorization']).toBe(`Bearer ${REAL_KEY}`);
  });

  it('requests without the placeholder are forwarded unchanged, and unbound hosts are blind-tunnelled', async () => {
    const publicResult = await curlThrough(`"https://${s.upstream.authority}/public"`);
    expect(publicResult.status).toBe('200');
    const tunnel = await s.runShell(`curl -sS -p "http://127.0.0.3:${plain.port}/tunnel"`);
    expect(tunnel.stdout).toBe('plain ok\n');
    expect(plain.seen.at(-1)?.url).toBe('/tunnel');
  });

  it('--deny-unlisted refuses CONNECT to unbound hosts', async () => {
    const before = plain.seen.length;
    const result = await s.runShell(`curl -sS -p -o /dev/null -w '%{http_connect}' "http://127.0.0.3:${plain.port}/x"`, ['--deny-unlisted']);
    expect(result.stdout).toBe('403');
    expect(plain.seen.length).toBe(before);
    expect(denials().at(-1)).toMatchObject({ reason: 'unlisted-host', method: 'CONNECT' });
  });
});

describe('requests no ordinary client sends', () => {
  it('two Host headers, one naming the bound host: 400 duplicate-host, nothing reaches the upstream', async () => {
    const seenBefore = s.upstream.seen.length;
    const deniedBefore = denials().length;
    const head = `GET /echo HTTP/1.1\\r\\nHost: evil.example\\r\\nHost: ${s.upstream.authority}\\r\\nAuthorization: Bearer $UP_KEY\\r\\nConnection: close\\r\\n\\r\\n`;
    const result = await s.runShell(`"${process.execPath}" "${RAW_CLIENT}" "${s.upstream.host}" "${s.upstream.port}" '${head}'`);
    expect(result.code, result.stderr).toBe(0);
    const [statusLine, body = ''] = result.stdout.split('\n');
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(body)).toEqual(problem(400, 'duplicate-host'));
    expect(s.upstream.seen.length).toBe(seenBefore);
    expect(result.stdout).not.toContain(REAL_KEY);
    expect(denials().slice(deniedBefore)).toEqual([expect.objectContaining({ reason: 'duplicate-host', status: 400, path: '/echo' })]);
  });
});

describe('proxy credentials', () => {
  it('no proxy credentials: 407 (CONNECT and absolute-form)', async () => {
    const before = s.upstream.seen.length;
    const result = await s.runShell(
      `P="http://127.0.0.1:\${HTTPS_PROXY##*@127.0.0.1:}"; curl -sS -o /dev/null -w '%{http_connect}\\n' -x "$P" "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"; curl -sS -o /dev/null -w '%{http_code}\\n' -x "$P" "http://127.0.0.3:${plain.port}/"`,
    );
    expect(result.stdout).toBe('407\n407\n');
    expect(s.upstream.seen.length).toBe(before);
  });

  it('a wrong token: 407', async () => {
    const result = await s.runShell(`P="http://agent:not-a-token@127.0.0.1:\${HTTPS_PROXY##*@127.0.0.1:}"; curl -sS -o /dev/null -w '%{http_connect}' -x "$P" "https://${s.upstream.authority}/echo"`);
    expect(result.stdout).toBe('407');
  });

  it('an expired token for this gateway: accepted while valid, 407 once expired', async () => {
    // The child publishes its proxy URL, the test mints a 4-second token for
    // this gateway's audience, the child uses it at once and again after expiry.
    const dir = s.home.dir;
    const proxyFile = join(dir, 'proxy.txt');
    const tokenFile = join(dir, 'token.txt');
    const script = `echo "$HTTPS_PROXY" > "${proxyFile}"; while [ ! -s "${tokenFile}" ]; do sleep 0.05; done; P="http://agent:$(cat "${tokenFile}")@127.0.0.1:\${HTTPS_PROXY##*@127.0.0.1:}"; curl -sS -o /dev/null -w '%{http_code}\\n' -x "$P" "https://${s.upstream.authority}/public"; sleep 5.5; curl -sS -o /dev/null -w '%{http_connect}\\n' -x "$P" "https://${s.upstream.authority}/public"`;
    const child = s.runShell(script, [], { timeoutMs: 30_000 });
    const deadline = Date.now() + 15_000;
    while (!existsSync(proxyFile) || readFileSync(proxyFile, 'utf8').trim() === '') {
      if (Date.now() > deadline) throw new Error('the child never wrote its proxy URL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const sessionToken = decodeURIComponent(new URL(readFileSync(proxyFile, 'utf8').trim()).password);
    const aud = JSON.parse(Buffer.from(sessionToken.split('.')[1]!, 'base64url').toString()).aud as string;
    const minted = await execa(process.execPath, [BIN, 'token', 'mint', 'coder', '--aud', aud, '--ttl', '4s'], { env: s.home.env, extendEnv: false, reject: false, stdin: 'ignore' });
    expect(minted.exitCode, String(minted.stderr)).toBe(0);
    writeFileSync(tokenFile, String(minted.stdout).trim());
    const result = await child;
    expect(result.stdout).toBe('200\n407\n');
  });
});

describe('the audit log', () => {
  it('holds one event per request, with no secret values, tokens or queries', () => {
    const lines = auditLines();
    const text = readFileSync(join(s.home.home, 'audit.jsonl'), 'utf8');
    expect(text).not.toContain(REAL_KEY);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/); // no JWT
    expect(text).not.toContain('aa-ph-');
    const requests = lines.filter((line) => line['kind'] === 'gateway.request');
    expect(requests.length).toBeGreaterThan(0);
    for (const line of [...requests, ...lines.filter((l) => l['kind'] === 'gateway.deny')]) {
      const actor = line['actor'] as { sub: string; jti: string };
      expect(actor.sub).toBe('agent:coder');
      expect(typeof actor.jti).toBe('string');
      const data = line['data'] as Record<string, unknown>;
      for (const key of ['agent', 'method', 'host', 'path', 'decision', 'status', 'ms', 'bytes_in', 'bytes_out']) expect(data).toHaveProperty(key);
    }
    const starts = lines.filter((line) => line['kind'] === 'run.start');
    const ends = lines.filter((line) => line['kind'] === 'run.end');
    expect(starts.length).toBeGreaterThan(0);
    expect(ends.length).toBe(starts.length);
    expect(starts[0]!['data']).toMatchObject({ agent: 'coder', command: 'sh', secrets: ['up'] });
    expect(lines.at(-1)!['kind']).toBe('checkpoint');
  });
});
