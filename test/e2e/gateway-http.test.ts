// HTTP semantics through `agentauth run`, with curl as the child: request
// bodies (sized and chunked) arrive intact, large answers stream through the
// scrubber without losing or leaking a byte, HEAD stays bodiless, and an
// upstream that cannot be reached or trusted is a 502 that names the reason,
// never an unverified connection.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigBody } from '../fixtures/gateway/upstream.js';
import { makeScenario, mustRun, problem, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';

let s: Scenario;
let closedPort: number;
// Speaks, but not HTTP: whatever arrives, it answers with a line of nonsense.
const garbage = createServer((socket) => socket.once('data', () => socket.end('HELLO this is not HTTP\r\n\r\n')));

beforeAll(async () => {
  s = await makeScenario();
  // A port nothing listens on, for a secret whose host is down.
  closedPort = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.2', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  await mustRun(s.home, ['secret', 'add', 'down', '--host', `127.0.0.2:${closedPort}`, '--header', 'X-Down', '--env', 'DOWN_KEY'], { input: 'down-value-0123456789\n' });
  await mustRun(s.home, ['grant', 'coder', 'down']);
  await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.2', resolve));
});
afterAll(async () => {
  garbage.close();
  await s?.cleanup();
});

function gatewayEvents(path: string): Record<string, unknown>[] {
  return readAuditLines(s.home)
    .filter((line) => String(line['kind']).startsWith('gateway.') && (line['data'] as Record<string, unknown>)['path'] === path)
    .map((line) => line['data'] as Record<string, unknown>);
}

/** curl … -w '\n%{http_code}': the body, then the status on the last line. */
function splitStatus(stdout: string): { status: string; body: string } {
  const at = stdout.lastIndexOf('\n');
  return { status: stdout.slice(at + 1), body: stdout.slice(0, at) };
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('request bodies', () => {
  const body = Buffer.from(JSON.stringify({ model: 'claude', messages: Array.from({ length: 2000 }, (_, i) => ({ role: 'user', content: `message ${i} ✓` })) }));

  it('a POST with Content-Length arrives byte for byte, and the audit event counts it', async () => {
    const file = join(s.home.dir, 'post.json');
    writeFileSync(file, body);
    const result = await s.runShell(`curl -sS --fail-with-body "https://${s.upstream.authority}/upload" -H "Authorization: Bearer $UP_KEY" -H 'Content-Type: application/json' --data-binary @"${file}"`);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ length: body.length, sha256: sha256(body), contentType: 'application/json', chunked: false });
    expect(s.upstream.seen.at(-1)?.headers['authorization']).toBe(`Bearer ${REAL_KEY}`);
    expect(gatewayEvents('/upload').at(-1)).toMatchObject({ method: 'POST', status: 200, decision: 'allow', bytes_in: body.length });
  });

  it('a chunked upload arrives whole too', async () => {
    const file = join(s.home.dir, 'chunked.json');
    writeFileSync(file, body);
    const result = await s.runShell(`curl -sS --fail-with-body "https://${s.upstream.authority}/upload" -H "Authorization: Bearer $UP_KEY" -H 'Transfer-Encoding: chunked' --data-binary @"${file}"`);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ length: body.length, sha256: sha256(body) });
    expect(gatewayEvents('/upload').at(-1)).toMatchObject({ method: 'POST', bytes_in: body.length });
  });
});

describe('responses', () => {
  it('a 5 MiB answer streams through whole, with every copy of the key replaced by the placeholder', async () => {
    const total = 5 * 1024 * 1024;
    const out = join(s.home.dir, 'big.bin');
    const result = await s.runShell(`printf %s "$UP_KEY" > "${out}.ph"; curl -sS --fail-with-body "https://${s.upstream.authority}/big?bytes=${total}" -H "Authorization: Bearer $UP_KEY" -o "${out}"`);
    expect(result.code, result.stderr).toBe(0);
    const placeholder = readFileSync(`${out}.ph`, 'utf8');
    const received = readFileSync(out);
    const expected = Buffer.from(bigBody(total, REAL_KEY).toString('latin1').split(REAL_KEY).join(placeholder), 'latin1');
    expect(received.includes(REAL_KEY)).toBe(false);
    expect(received.length).toBe(expected.length);
    expect(sha256(received)).toBe(sha256(expected));
    expect(gatewayEvents('/big').at(-1)).toMatchObject({ status: 200, decision: 'allow', bytes_out: expected.length });
  });

  it('a child that hangs up mid-answer is recorded as such, and the gateway carries on', async () => {
    const result = await s.runShell(
      `curl -sS "https://${s.upstream.authority}/big?bytes=${64 * 1024 * 1024}" -H "Authorization: Bearer $UP_KEY" | head -c 1000 > /dev/null; curl -sS -o /dev/null -w '%{http_code}' "https://${s.upstream.authority}/public"`,
    );
    expect(result.stdout).toBe('200');
    const event = gatewayEvents('/big').at(-1)!;
    expect(event).toMatchObject({ reason: 'client-closed' });
    expect(event['bytes_out'] as number).toBeLessThan(64 * 1024 * 1024);
  });

  it('HEAD gets the headers and no body', async () => {
    const result = await s.runShell(`curl -sS -I "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(result.stdout).toMatch(/content-type: application\/json/i);
    expect(s.upstream.seen.at(-1)?.method).toBe('HEAD');
  });
});

describe('leaf certificates', () => {
  it('a later run presents the leaf an earlier run issued (kept in the keystore), and it names the host', async () => {
    const leafOf = async () => {
      const result = await s.runShell(`curl -sS -o /dev/null -w '%{certs}' "https://${s.upstream.authority}/public"`);
      expect(result.code, result.stderr).toBe(0);
      return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(result.stdout)?.[0];
    };
    const first = await leafOf();
    const second = await leafOf();
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect(new X509Certificate(first!).checkIP(s.upstream.host)).toBe(s.upstream.host);
  });
});

describe('upstreams that cannot be used', () => {
  it('an upstream certificate the system roots do not trust is a 502, and no request is sent', async () => {
    const before = s.upstream.seen.length;
    // The same scenario without --upstream-ca: the test upstream's CA is unknown to the system.
    const result = await s.home.run(['run', '--agent', 'coder', '--', 'sh', '-c', `curl -sS -w '\\n%{http_code}' "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`]);
    const { status, body } = splitStatus(result.stdout);
    expect(status).toBe('502');
    expect(JSON.parse(body)).toEqual(problem(502, 'upstream-tls-unverified'));
    expect(JSON.parse(body).detail).toContain('--upstream-ca');
    expect(s.upstream.seen.length).toBe(before);
    expect(result.stdout + result.stderr).not.toContain(REAL_KEY);
    expect(gatewayEvents('/echo').at(-1)).toMatchObject({ decision: 'error', status: 502, reason: 'upstream-tls-unverified' });
  });

  it('an upstream that is down is a 502 upstream-unreachable', async () => {
    const result = await s.runShell(`curl -sS -w '\\n%{http_code}' "https://127.0.0.2:${closedPort}/anything" -H "X-Down: $DOWN_KEY"`);
    const { status, body } = splitStatus(result.stdout);
    expect(status).toBe('502');
    expect(JSON.parse(body)).toEqual(problem(502, 'upstream-unreachable'));
    expect(gatewayEvents('/anything').at(-1)).toMatchObject({ decision: 'error', status: 502, reason: 'upstream-unreachable' });
  });

  it('a blind tunnel that cannot reach its host is logged with the reason and host:port', async () => {
    // 127.0.0.6 is bound to no secret: CONNECT gets a blind tunnel, and nothing listens there.
    const result = await s.runShell(`curl -sS -o /dev/null -w '%{http_connect}' --proxytunnel "http://127.0.0.6:${closedPort}/"`);
    expect(result.stdout).toBe('502');
    const events = readAuditLines(s.home).filter((line) => line['kind'] === 'gateway.request').map((line) => line['data'] as Record<string, unknown>);
    expect(events.filter((event) => event['host'] === '127.0.0.6').at(-1)).toMatchObject({ decision: 'error', status: 502, reason: 'upstream-unreachable', port: closedPort, method: 'CONNECT' });
  });

  it('an upstream that does not speak HTTP/1.1 is a 502 upstream-bad-response', async () => {
    const { port } = garbage.address() as { port: number };
    const result = await s.runShell(`curl -sS -w '\\n%{http_code}' "http://127.0.0.2:${port}/nonsense"`);
    const { status, body } = splitStatus(result.stdout);
    expect(status).toBe('502');
    expect(JSON.parse(body)).toEqual(problem(502, 'upstream-bad-response'));
    expect(gatewayEvents('/nonsense').at(-1)).toMatchObject({ decision: 'error', status: 502, reason: 'upstream-bad-response' });
  });
});
