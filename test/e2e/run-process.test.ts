// `agentauth run` as a process: exit codes, signals, the child's environment,
// start failures, a TUI under tmux, and the audit trail of a run.
import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../helpers/cli.js';
import { makeScenario, mustRun, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';
import { skipWithout } from '../helpers/prerequisites.js';

let s: Scenario;
beforeAll(async () => {
  s = await makeScenario();
});
afterAll(async () => {
  await s?.cleanup();
});

function spawnRun(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [BIN, 'run', '--agent', 'coder', ...args], { env: { ...s.home.env, ...env }, extendEnv: false, reject: false, stdin: 'ignore' });
}

describe('exit status', () => {
  for (const code of [0, 3, 42]) {
    it(`passes the child's exit code ${code} through`, async () => {
      const result = await s.home.run(['run', '--agent', 'coder', '--', 'sh', '-c', `exit ${code}`]);
      expect(result.code).toBe(code);
    });
  }

  it('a missing command is 127, a non-executable file 126', async () => {
    const missing = await s.home.run(['run', '--agent', 'coder', '--', 'no-such-command-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('command not found: no-such-command-xyz');
    const file = join(s.home.dir, 'not-exec.sh');
    writeFileSync(file, 'echo hi\n', { mode: 0o644 });
    const notExec = await s.home.run(['run', '--agent', 'coder', '--', file]);
    expect(notExec.code).toBe(126);
    // Neither child started: each run wrote run.fail with its exit status and why, never run.start.
    const fails = readAuditLines(s.home).filter((line) => line['kind'] === 'run.fail').map((line) => line['data'] as Record<string, unknown>);
    expect(fails.slice(-2)).toEqual([
      expect.objectContaining({ command: 'no-such-command-xyz', exit_code: 127, code: 'COMMAND_NOT_FOUND', reason: 'command not found: no-such-command-xyz' }),
      expect.objectContaining({ command: 'not-exec.sh', exit_code: 126, code: 'COMMAND_NOT_EXECUTABLE', reason: expect.stringContaining('cannot execute') }),
    ]);
  });

  it("agentauth's own failures before the child starts are 125", async () => {
    const unknownAgent = await s.home.run(['run', '--agent', 'nobody', '--', 'true']);
    expect(unknownAgent.code).toBe(125);
    expect(unknownAgent.stderr).toContain('no agent named "nobody"');
    const notGranted = await s.home.run(['run', '--agent', 'coder', '--secret', 'missing', '--', 'true']);
    expect(notGranted.code).toBe(125);
  });

  it('--agent may be left out when exactly one agent exists, and not otherwise', async () => {
    const implicit = await s.home.run(['run', '--', 'sh', '-c', 'test -n "$UP_KEY"']);
    expect(implicit.code).toBe(0);
    await mustRun(s.home, ['agent', 'add', 'second', '--scope', 'demo:read']);
    const ambiguous = await s.home.run(['run', '--', 'true']);
    expect(ambiguous.code).toBe(125);
    expect(ambiguous.stderr).toContain('--agent');
    await mustRun(s.home, ['agent', 'remove', 'second']);
  });
});

describe("run's own output", () => {
  // run tunes V8 at run time (src/commands/run/heap.ts); a flag V8 did not know would print
  // "Error: unrecognized flag" into the child's terminal. Nothing else is said on a quiet run either.
  const nodes = [['Node 20 (this one)', process.execPath], ['Node 24', process.env['AGENTAUTH_TEST_NODE24'] ?? '']] as const;
  for (const [label, node] of nodes) {
    it(`a quiet run prints nothing of its own on stdout or stderr, on ${label}`, async (ctx) => {
      skipWithout(ctx, node && existsSync(node) ? null : 'a Node 24 binary in AGENTAUTH_TEST_NODE24');
      const result = await execa(node, [BIN, 'run', '--agent', 'coder', '--no-sandbox', '--', 'sh', '-c', 'echo child'], { env: s.home.env, extendEnv: false, reject: false, stdin: 'ignore' });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stdout).toBe('child');
      expect(result.stderr).toBe('');
    });
  }
});

// Forwarding into the sandbox is tested by sandbox-behaviour.test.ts; these run the child directly.
describe('signals', () => {
  it('SIGTERM sent to agentauth reaches the child (no sandbox)', async () => {
    const child = spawnRun(['--no-sandbox', '--', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
    await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.stdout).toContain('got-term');
    expect(result.exitCode).toBe(7);
  });

  it('SIGHUP and SIGINT (stdin not a terminal) are forwarded too (no sandbox)', async () => {
    for (const [signal, name] of [['SIGHUP', 'HUP'], ['SIGINT', 'INT']] as const) {
      const child = spawnRun(['--no-sandbox', '--', 'sh', '-c', `trap "echo got-${name}; exit 8" ${name}; echo ready; while :; do sleep 0.05; done`]);
      await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
      child.kill(signal);
      const result = await child;
      expect(result.stdout).toContain(`got-${name}`);
      expect(result.exitCode).toBe(8);
    }
  });

  it('a child that dies of a signal makes agentauth die of the same signal (137 for SIGKILL in a shell)', async () => {
    const killed = await execa('sh', ['-c', `"${process.execPath}" "${BIN}" run --agent coder -- sh -c 'kill -KILL $$'; echo "status=$?"`], { env: s.home.env, extendEnv: false, reject: false });
    expect(killed.stdout.trim()).toBe('status=137');
    const direct = await spawnRun(['--', 'sh', '-c', 'kill -TERM $$']);
    expect(direct.signal).toBe('SIGTERM');
    // The run was still recorded as ended, with the signal.
    const log = readFileSync(join(s.home.home, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const ends = log.filter((line) => line.kind === 'run.end');
    expect(ends.at(-1).data.signal).toBe('SIGTERM');
    expect(ends.at(-2).data.signal).toBe('SIGKILL');
  });
});

describe("the child's environment", () => {
  it('gets placeholders, the proxy, NO_PROXY and CA settings; inherited copies are replaced; agentauth variables are removed', async () => {
    // The bundle lives only as long as the run: the child reads it.
    const probe = "const fs=require('fs');const e=process.env;console.log(JSON.stringify({env:e,ca:fs.readFileSync(e.NODE_EXTRA_CA_CERTS,'utf8'),bundle:fs.readFileSync(e.SSL_CERT_FILE,'utf8')}))";
    const result = await s.home.run(['run', '--agent', 'coder', '--', process.execPath, '-e', probe], {
      env: { HTTPS_PROXY: 'http://old-proxy:1', https_proxy: 'http://old-proxy:2', NODE_EXTRA_CA_CERTS: '/nowhere.pem', AGENTAUTH_PASSPHRASE: 'leak-me', AGENTAUTH_BACKEND: 'file', XDG_CONFIG_HOME: '/xdg-stays', KEEP_ME: 'yes' },
    });
    expect(result.code, result.stderr).toBe(0);
    const probed = JSON.parse(result.stdout) as { env: Record<string, string>; ca: string; bundle: string };
    const env = probed.env;
    expect(env['UP_KEY']).toMatch(/^aa-ph-up-[A-Za-z0-9]{16,}$/);
    const proxy = new URL(env['HTTPS_PROXY']!);
    expect(proxy.hostname).toBe('127.0.0.1');
    expect(proxy.username).toBe('agent');
    expect(proxy.password.split('.')).toHaveLength(3);
    for (const name of ['https_proxy', 'HTTP_PROXY', 'http_proxy']) expect(env[name]).toBe(env['HTTPS_PROXY']);
    expect(env['NO_PROXY']).toBe('localhost,127.0.0.1,::1');
    expect(env['no_proxy']).toBe('localhost,127.0.0.1,::1');
    expect(env['NODE_USE_ENV_PROXY']).toBe('1');
    expect(env['GIT_HTTP_PROXY_AUTHMETHOD']).toBe('basic');
    expect(env['GIT_TERMINAL_PROMPT']).toBe('0');
    expect(env['UP_BASE_URL']).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${proxy.port}/_/[A-Za-z0-9_-]{32}/up$`));
    expect(probed.ca.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    const bundle = env['SSL_CERT_FILE']!;
    for (const name of ['REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'DENO_CERT', 'CARGO_HTTP_CAINFO', 'npm_config_cafile']) expect(env[name]).toBe(bundle);
    expect(probed.bundle).toContain(probed.ca.trim());
    // System roots too, not only our CA.
    expect(probed.bundle.match(/BEGIN CERTIFICATE/g)!.length).toBeGreaterThan(10);
    expect(env['AGENTAUTH_PASSPHRASE']).toBeUndefined();
    expect(env['AGENTAUTH_PASSPHRASE_FILE']).toBeUndefined();
    expect(env['AGENTAUTH_BACKEND']).toBeUndefined();
    expect(env['PATH']).toBe(s.home.env['PATH']);
    expect(env['HOME']).toBe(s.home.env['HOME']);
    expect(env['XDG_CONFIG_HOME']).toBe('/xdg-stays');
    expect(env['KEEP_ME']).toBe('yes');
    expect(result.stdout).not.toContain('old-proxy');
  });

  it('--no-inherit-env starts from a minimal environment', async () => {
    const result = await s.home.run(['run', '--agent', 'coder', '--no-inherit-env', '--', process.execPath, '-e', 'console.log(JSON.stringify(process.env))'], { env: { KEEP_ME: 'no' } });
    const env = JSON.parse(result.stdout) as Record<string, string>;
    expect(env['KEEP_ME']).toBeUndefined();
    expect(env['USER']).toBe('tester');
    expect(env['PATH']).toBe(s.home.env['PATH']);
    expect(env['UP_KEY']).toMatch(/^aa-ph-up-/);
  });

  it('the session token and the secret never appear in argv of agentauth or in its output', async () => {
    // The child prints its proxy URL, which carries this run's session token;
    // other tests pass tokens of their own in argv at the same time, so the
    // look-up is for this token and this secret, not for any JWT.
    const child = spawnRun(['--', 'sh', '-c', 'echo "$HTTPS_PROXY"; sleep 1']);
    const proxyUrl = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
    const ps = await execa('ps', ['-eo', 'args'], { reject: false });
    const result = await child;
    const token = decodeURIComponent(new URL(proxyUrl).password);
    expect(token.split('.')).toHaveLength(3);
    expect(ps.exitCode).toBe(0);
    expect(ps.stdout).toContain('agentauth.js run');
    expect(ps.stdout).not.toContain(token);
    expect(ps.stdout).not.toContain(REAL_KEY);
    expect(result.stderr).not.toContain(token);
    expect(result.stderr).not.toContain(REAL_KEY);
  });
});

describe('a TUI under tmux', () => {
  it('renders, takes keys in raw mode (Ctrl-C included) and exits with its code', async (ctx) => {
    const tmux = await execa('tmux', ['-V'], { reject: false });
    skipWithout(ctx, tmux.exitCode === 0 ? null : 'tmux (apt-get install tmux)');
    const socket = `aa-test-${randomBytes(4).toString('hex')}`;
    const wrapper = join(s.home.dir, 'tui.sh');
    const exports = Object.entries(s.home.env).map(([key, value]) => `export ${key}='${value.replace(/'/g, `'\\''`)}'`).join('\n');
    writeFileSync(wrapper, `${exports}\nexport TERM=xterm-256color\n"${process.execPath}" "${BIN}" run --agent coder -- "${process.execPath}" "${join(REPO_ROOT, 'test/fixtures/gateway/tui.mjs')}"\necho "EXIT=$?"\nsleep 30\n`);
    chmodSync(wrapper, 0o700);
    const t = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args], { reject: false });
    const screen = async () => (await t('capture-pane', '-p', '-t', 'tui')).stdout;
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const content = await screen();
        if (content.includes(text)) return content;
        if (Date.now() > deadline) throw new Error(`tmux screen never showed ${JSON.stringify(text)}:\n${content}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await t('new-session', '-d', '-x', '90', '-y', '20', '-s', 'tui', `sh ${wrapper}`);
      await waitFor('TUI READY cols=90');
      await t('send-keys', '-t', 'tui', 'a');
      await waitFor('got:"a"');
      await t('send-keys', '-t', 'tui', 'C-c');
      await waitFor('got:"\\u0003"');
      await t('resize-window', '-t', 'tui', '-x', '100', '-y', '20');
      await waitFor('resized cols=100');
      await t('send-keys', '-t', 'tui', 'q');
      const final = await waitFor('EXIT=');
      expect(final).toContain('bye');
      expect(final).toContain('EXIT=5');
    } finally {
      await t('kill-server');
    }
  });
});

describe('the audit trail', () => {
  it('audit verify passes and replay --agent coder lists every request of the run, denials included', async () => {
    const base = `/v1/${randomBytes(6).toString('hex')}`;
    const result = await s.runShell(
      [
        `curl -sS -o /dev/null "https://${s.upstream.authority}${base}/a?q=1" -H "Authorization: Bearer $UP_KEY"`,
        // No key at all: the upstream's own 401 is passed through, and recorded.
        `curl -sS -o /dev/null "https://${s.upstream.authority}${base}/b"`,
        // The placeholder in the wrong header: refused by the gateway, recorded as a denial.
        `curl -sS -o /dev/null "https://${s.upstream.authority}${base}/c" -H "X-Other: $UP_KEY"`,
      ].join('; '),
    );
    expect(result.code, result.stderr).toBe(0);
    const verify = await s.home.run(['audit', 'verify', '--strict']);
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const replay = await s.home.run(['audit', 'replay', '--agent', 'coder', '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const lines = replay.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; kind?: string; data?: Record<string, unknown> });
    const requests = lines.filter((line) => line.type === 'event' && String(line.data?.['path']).startsWith(base));
    expect(requests.map((line) => [line.kind, line.data?.['method'], line.data?.['host'], line.data?.['path'], line.data?.['status']])).toEqual([
      ['gateway.request', 'GET', s.upstream.host, `${base}/a`, 200],
      ['gateway.request', 'GET', s.upstream.host, `${base}/b`, 401],
      ['gateway.deny', 'GET', s.upstream.host, `${base}/c`, 403],
    ]);
    expect(lines.at(-1)).toMatchObject({ type: 'summary', verified: true });
  });
});
