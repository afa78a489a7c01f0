// Real clients through `agentauth run`: each reaches a local HTTPS upstream
// that requires the real key; the upstream sees it, the child only ever sees
// the placeholder.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../helpers/cli.js';
import { makeScenario, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';
import { startUpstream } from '../fixtures/gateway/upstream.js';
import { skipWithout } from '../helpers/prerequisites.js';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/gateway');
let s: Scenario;

beforeAll(async () => {
  s = await makeScenario({ git: true });
});
afterAll(async () => {
  await s?.cleanup();
});

function expectNoRealKey(...texts: string[]): void {
  for (const text of texts) expect(text).not.toContain(REAL_KEY);
}

function lastAuth(): string | undefined {
  return s.upstream.seen.at(-1)?.headers['authorization'] as string | undefined;
}

describe('curl', () => {
  it('CONNECT + TLS termination: the upstream gets the real key, the child sees the placeholder', async () => {
    const result = await s.runShell(`printf 'env=%s\\n' "$UP_KEY"; curl -sS --fail-with-body "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.code, result.stderr).toBe(0);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
    const placeholder = /env=(aa-ph-up-[A-Za-z0-9]+)/.exec(result.stdout)?.[1];
    expect(placeholder).toBeDefined();
    // The upstream echoed the header back; the scrubber put the placeholder in its place.
    expect(result.stdout).toContain(`Bearer ${placeholder}`);
    expectNoRealKey(result.stdout, result.stderr);
  });

  it('absolute-form https:// through the proxy (no CONNECT) is swapped too', async () => {
    // curl --proxy-… with a request-target URL: ask curl to send the full URL (like older axios).
    const result = await s.runShell(`curl -sS --fail-with-body --request-target "https://${s.upstream.authority}/echo" -x "$HTTP_PROXY" "http://${s.upstream.authority}/" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.code, result.stderr).toBe(0);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
    expectNoRealKey(result.stdout);
  });

  it('the key is scrubbed from response headers and bodies (raw, base64, URL-encoded, split across chunks, gzip)', async () => {
    const result = await s.runShell(`curl -sS -D - "https://${s.upstream.authority}/reveal" -H "Authorization: Bearer $UP_KEY"; curl -sS --compressed "https://${s.upstream.authority}/reveal-gzip" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.code, result.stderr).toBe(0);
    expectNoRealKey(result.stdout);
    expect(result.stdout).not.toContain(Buffer.from(REAL_KEY).toString('base64'));
    expect(result.stdout).toMatch(/x-key: aa-ph-up-/i);
    expect(result.stdout).toMatch(/raw=aa-ph-up-[A-Za-z0-9]+;b64=aa-ph-up-[A-Za-z0-9]+;url=aa-ph-up-[A-Za-z0-9]+;end/);
    expect(result.stdout).toMatch(/gz=aa-ph-up-/);
  });

  it('redirects are passed to the child, never followed', async () => {
    const before = s.upstream.seen.length;
    const result = await s.runShell(`curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "https://${s.upstream.authority}/redirect" -H "Authorization: Bearer $UP_KEY"`);
    expect(result.stdout).toBe(`302 https://${s.upstream.authority}/echo`);
    expect(s.upstream.seen.length).toBe(before + 1);
  });
});

describe('Python requests', () => {
  it('reaches the upstream with the swapped key', async (ctx) => {
    const found = await findPythonWithRequests();
    skipWithout(ctx, found ? null : 'a python3 with the requests module (apt-get install python3-requests)');
    const script = `import os, requests\nr = requests.get("https://${s.upstream.authority}/echo", headers={"Authorization": "Bearer " + os.environ["UP_KEY"]}, timeout=20)\nprint(r.status_code)\nprint(r.text)`;
    const result = await s.runShell(`"${found}" -c '${script.replace(/'/g, `'\\''`)}'`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('200');
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
    expectNoRealKey(result.stdout, result.stderr);
  });
});

async function findPythonWithRequests(): Promise<string | null> {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const r = await execa(candidate, ['-c', 'import requests'], { reject: false });
    if (r.exitCode === 0) return candidate;
  }
  return null;
}

describe('git', () => {
  it('git ls-remote over HTTPS through the proxy, with the key in http.extraHeader', async () => {
    const result = await s.runShell(`git -c http.extraHeader="Authorization: Bearer $UP_KEY" ls-remote "https://${s.upstream.authority}/repo.git"`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main$/m);
    const gitRequests = s.upstream.seen.filter((r) => r.url.startsWith('/repo.git'));
    expect(gitRequests.length).toBeGreaterThan(0);
    expect(gitRequests.every((r) => r.headers['authorization'] === `Bearer ${REAL_KEY}`)).toBe(true);
    expectNoRealKey(result.stdout, result.stderr);
  });
});

describe('Node', () => {
  const fetchClient = join(FIXTURES, 'fetch-client.mjs');
  const httpsClient = join(FIXTURES, 'https-get-client.mjs');

  // On Node 20 (CI's first pass) this is run's preload at work; on Node 24 (the second), Node's own NODE_USE_ENV_PROXY.
  const native = Number(process.versions.node.split('.')[0]) >= 24;
  it(`Node ${process.versions.node}: fetch and https.get go through the gateway (${native ? 'NODE_USE_ENV_PROXY' : "run's preload; without it they would not"})`, async () => {
    const url = `https://${s.upstream.authority}/echo`;
    const before = s.upstream.seen.length;
    const result = await s.runShell(`"${process.execPath}" "${fetchClient}" "${url}"; "${process.execPath}" "${httpsClient}" "${url}"; NODE_OPTIONS= "${process.execPath}" "${httpsClient}" "${url}"`);
    const [fetchStatus, , httpsStatus, , bare] = result.stdout.split('\n');
    expect([fetchStatus, httpsStatus], result.stderr).toEqual(['200', '200']);
    expect(s.upstream.seen.slice(before, before + 2).map((request) => request.headers['authorization'])).toEqual([`Bearer ${REAL_KEY}`, `Bearer ${REAL_KEY}`]);
    // The same child without the preload goes straight to the upstream, around the gateway: no swap (401), or no trust (error).
    if (!native) expect(bare).toMatch(/^(error|401)/);
    expectNoRealKey(result.stdout, result.stderr);
  });

  it('Node 24: fetch and https.get with NODE_USE_ENV_PROXY=1 (no preload needed)', async (ctx) => {
    const node24 = process.env['AGENTAUTH_TEST_NODE24'];
    skipWithout(ctx, node24 && existsSync(node24) ? null : 'a Node 24 binary in AGENTAUTH_TEST_NODE24 (npm install --prefix /tmp/node24 node@24)');
    const url = `https://${s.upstream.authority}/echo`;
    const before = s.upstream.seen.length;
    const result = await s.runShell(`"${node24}" "${fetchClient}" "${url}"; "${node24}" "${httpsClient}" "${url}"`);
    const [fetchStatus, , httpsStatus] = result.stdout.split('\n');
    expect([fetchStatus, httpsStatus], result.stderr).toEqual(['200', '200']);
    expect(s.upstream.seen.slice(before).map((request) => request.headers['authorization'])).toEqual([`Bearer ${REAL_KEY}`, `Bearer ${REAL_KEY}`]);
    expectNoRealKey(result.stdout, result.stderr);
  });

  it("the user's own NODE_EXTRA_CA_CERTS and CA bundle stay trusted inside (a host no secret is bound to, through a blind tunnel)", async () => {
    const internal = await startUpstream({ dir: s.home.dir, realKey: 'unused', host: '127.0.0.4' });
    try {
      const url = `https://${internal.authority}/public`;
      const result = await s.runShell(`"${process.execPath}" "${httpsClient}" "${url}"; curl -sS "${url}"; printf '%s\n' "$NODE_EXTRA_CA_CERTS" "$SSL_CERT_FILE"`, [], {
        env: { NODE_EXTRA_CA_CERTS: internal.caFile, SSL_CERT_FILE: internal.caFile },
      });
      const lines = result.stdout.split('\n').filter(Boolean);
      expect(lines.slice(0, 3), result.stderr).toEqual(['200', 'public', 'public']);
      // Both variables now name run's files, which hold the user's CA and agentauth's.
      expect(lines.slice(3)).toHaveLength(2);
      for (const file of lines.slice(3)) expect(file).not.toBe(internal.caFile);
      expect(internal.seen.length).toBe(2);
    } finally {
      await internal.close();
    }
  });

  it('Node 20 (no proxy support in fetch) through base-URL mode', async () => {
    const result = await s.runShell(`"${process.execPath}" "${FIXTURES}/fetch-client.mjs" "$UP_BASE_URL/echo"`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^200\n/);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
    expectNoRealKey(result.stdout, result.stderr);
  });

  it('base-URL mode without the placeholder is 401', async () => {
    const result = await s.runShell(`curl -sS -o /dev/null -w '%{http_code}' "$UP_BASE_URL/echo"`);
    expect(result.stdout).toBe('401');
  });
});

describe('streaming and upgrades', () => {
  it('SSE: the child gets the first event long before the upstream finishes', async () => {
    const child = execa(process.execPath, [BIN, 'run', '--agent', 'coder', '--upstream-ca', s.upstream.caFile, '--', 'sh', '-c', `curl -sSN "https://${s.upstream.authority}/sse" -H "Authorization: Bearer $UP_KEY"`], {
      env: s.home.env,
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
    });
    let firstEventAt: number | null = null;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (firstEventAt === null && chunk.toString().includes('data: event 1')) firstEventAt = Date.now();
    });
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect(String(result.stdout).match(/data: event \d/g)).toHaveLength(5);
    expect(firstEventAt).not.toBeNull();
    expect(s.upstream.sseFinishedAt).not.toBeNull();
    // Five events 200 ms apart: the first must arrive ~800 ms before the last.
    expect(s.upstream.sseFinishedAt! - firstEventAt!).toBeGreaterThan(500);
  });

  it('WebSocket echo through the gateway, with the swap applied to the upgrade request', async () => {
    const result = await s.runShell(`"${process.execPath}" "${FIXTURES}/ws-client.mjs" "${s.upstream.host}" "${s.upstream.port}" hello-through-gateway`);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('echo:hello-through-gateway');
    const upgrade = s.upstream.seen.filter((r) => r.headers['upgrade'] === 'websocket').at(-1);
    expect(upgrade?.headers['authorization']).toBe(`Bearer ${REAL_KEY}`);
    expectNoRealKey(result.stdout, result.stderr);
  });

  it('WebSocket frames from the upstream are scrubbed: the real key (split across frames and TCP chunks) reaches the child as the placeholder', async () => {
    const result = await s.runShell(`printf 'env=%s\\n' "$UP_KEY"; "${process.execPath}" "${FIXTURES}/ws-client.mjs" "${s.upstream.host}" "${s.upstream.port}" reveal`);
    expect(result.code, result.stderr).toBe(0);
    const placeholder = /env=(aa-ph-up-[A-Za-z0-9]+)/.exec(result.stdout)?.[1];
    expect(placeholder).toBeDefined();
    expect(result.stdout).toContain(`raw=${placeholder};b64=${placeholder}`);
    expectNoRealKey(result.stdout, result.stderr);
    expect(result.stdout).not.toContain(Buffer.from(REAL_KEY).toString('base64'));
  });
});
