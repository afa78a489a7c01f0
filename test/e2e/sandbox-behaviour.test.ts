// Everything `run` does keeps working inside the sandbox: real clients
// through the gateway, base-URL mode, exit codes, signals, a TUI and Ctrl-C
// in a real terminal, the environment, and run.start/run.end. Every run here
// passes --sandbox, so it fails (125) rather than quietly running unsandboxed.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../helpers/cli.js';
import { makeScenario, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';
import { skipWithout } from '../helpers/prerequisites.js';
import { bwrapMissing, eventsOf, shellQuote } from '../helpers/sandbox.js';

const noBwrap = await bwrapMissing('sandbox behaviour tests');
const FIXTURES = join(REPO_ROOT, 'test/fixtures/gateway');

let s: Scenario;
beforeAll(async () => {
  s = await makeScenario({ git: true });
});
afterAll(async () => {
  await s?.cleanup();
});

const sandboxed = (script: string) => s.runShell(script, ['--sandbox']);
const lastAuth = () => s.upstream.seen.at(-1)?.headers['authorization'];

function spawnRun(args: string[]) {
  return execa(process.execPath, [BIN, 'run', '--agent', 'coder', '--sandbox', ...args], { env: s.home.env, extendEnv: false, reject: false, stdin: 'ignore' });
}

async function waitForReady(child: ReturnType<typeof spawnRun>): Promise<void> {
  await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
}

describe.skipIf(noBwrap)('clients through the gateway, from inside the sandbox', () => {
  it('curl', async () => {
    const r = await sandboxed(`curl -sS --fail-with-body "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY"`);
    expect(r.code, r.stderr).toBe(0);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
    expect(r.stdout).not.toContain(REAL_KEY);
  });

  it('Python requests (the system python3)', async () => {
    const script = `import os, requests\nr = requests.get("https://${s.upstream.authority}/echo", headers={"Authorization": "Bearer " + os.environ["UP_KEY"]}, timeout=20)\nprint(r.status_code)`;
    const r = await sandboxed(`/usr/bin/python3 -c ${shellQuote(script)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('200');
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
  });

  it('git ls-remote', async () => {
    const r = await sandboxed(`git -c http.extraHeader="Authorization: Bearer $UP_KEY" ls-remote "https://${s.upstream.authority}/repo.git"`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main$/m);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
  });

  it('base-URL mode (Node 20 fetch, which ignores proxies)', async () => {
    const r = await sandboxed(`"${process.execPath}" "${FIXTURES}/fetch-client.mjs" "$UP_BASE_URL/echo"`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^200\n/);
    expect(lastAuth()).toBe(`Bearer ${REAL_KEY}`);
  });
});

describe.skipIf(noBwrap)('exit status and signals inside the sandbox', () => {
  it('exit codes 0, 3 and 42 pass through; 127 for a missing command, 126 for a non-executable file', async () => {
    for (const code of [0, 3, 42]) expect((await sandboxed(`exit ${code}`)).code).toBe(code);
    const missing = await s.home.run(['run', '--agent', 'coder', '--sandbox', '--', 'no-such-command-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('command not found: no-such-command-xyz');
    const file = join(s.home.dir, 'not-exec.sh');
    writeFileSync(file, 'echo hi\n', { mode: 0o644 });
    const notExec = await s.home.run(['run', '--agent', 'coder', '--sandbox', '--', file]);
    expect(notExec.code).toBe(126);
    expect(notExec.stderr).toContain(`cannot execute ${file}`);
  });

  it('SIGTERM sent to agentauth reaches the child, which can clean up', async () => {
    const child = spawnRun(['--', 'sh', '-c', 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
    await waitForReady(child);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.stdout).toContain('got-term');
    expect(r.exitCode).toBe(7);
  });

  it('SIGHUP and SIGINT (stdin not a terminal) are forwarded too', async () => {
    for (const [signal, name] of [['SIGHUP', 'HUP'], ['SIGINT', 'INT']] as const) {
      const child = spawnRun(['--', 'sh', '-c', `trap "echo got-${name}; exit 8" ${name}; echo ready; while :; do sleep 0.05; done`]);
      await waitForReady(child);
      child.kill(signal);
      const r = await child;
      expect(r.stdout).toContain(`got-${name}`);
      expect(r.exitCode).toBe(8);
    }
  });

  it('the sandboxed child dies with run, even when run is killed with SIGKILL', async () => {
    const beat = join(s.home.dir, 'heartbeat');
    const child = spawnRun(['--', 'sh', '-c', `date +%s%N > ${shellQuote(beat)}; echo ready; while :; do date +%s%N > ${shellQuote(beat)}; sleep 0.05; done`]);
    await waitForReady(child);
    child.kill('SIGKILL');
    await child;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const last = readFileSync(beat, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(readFileSync(beat, 'utf8')).toBe(last);
  });

  it('a child that dies of a signal makes agentauth die of the same signal', async () => {
    const r = await spawnRun(['--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.signal).toBe('SIGTERM');
    const end = eventsOf(join(s.home.home, 'audit.jsonl'), 'run.end').at(-1);
    expect(end).toMatchObject({ signal: 'SIGTERM', sandbox: 'bwrap' });
  });
});

describe.skipIf(noBwrap)('a terminal (tmux), inside the sandbox', () => {
  async function inTmux(ctx: { skip(): void }, command: string, steps: (t: (...args: string[]) => Promise<unknown>, waitFor: (text: string) => Promise<string>) => Promise<void>) {
    const tmux = await execa('tmux', ['-V'], { reject: false });
    skipWithout(ctx, tmux.exitCode === 0 ? null : 'tmux (apt-get install tmux)');
    const socket = `aa-sandbox-${randomBytes(4).toString('hex')}`;
    const wrapper = join(s.home.dir, `${socket}.sh`);
    const exports = Object.entries(s.home.env).map(([key, value]) => `export ${key}=${shellQuote(value)}`).join('\n');
    // The trap keeps this wrapper shell alive through a Ctrl-C (a trapped signal is reset in children).
    writeFileSync(wrapper, `trap : INT\n${exports}\nexport TERM=xterm-256color\n${command}\necho "EXIT=$?"\nsleep 30\n`);
    chmodSync(wrapper, 0o700);
    const t = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args], { reject: false });
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const content = (await t('capture-pane', '-p', '-t', 'tui')).stdout;
        if (content.includes(text)) return content;
        if (Date.now() > deadline) throw new Error(`tmux screen never showed ${JSON.stringify(text)}:\n${content}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    try {
      await t('new-session', '-d', '-x', '90', '-y', '20', '-s', 'tui', `sh ${wrapper}`);
      await steps(t, waitFor);
    } finally {
      await t('kill-server');
    }
  }

  it('a TUI renders, takes keys in raw mode (Ctrl-C included), sees resizes and exits with its code', async (ctx) => {
    await inTmux(ctx, `"${process.execPath}" "${BIN}" run --agent coder --sandbox -- "${process.execPath}" "${join(FIXTURES, 'tui.mjs')}"`, async (t, waitFor) => {
      await waitFor('TUI READY cols=90');
      await t('send-keys', '-t', 'tui', 'a');
      await waitFor('got:"a"');
      await t('send-keys', '-t', 'tui', 'C-c');
      await waitFor('got:"\\u0003"');
      await t('resize-window', '-t', 'tui', '-x', '100', '-y', '20');
      await waitFor('resized cols=100');
      await t('send-keys', '-t', 'tui', 'q');
      expect(await waitFor('EXIT=')).toContain('EXIT=5');
    });
  });

  it('Ctrl-C in a cooked terminal reaches the child, which cleans up and exits its own way', async (ctx) => {
    // bwrap's outer process would die of the SIGINT and take the sandbox down with it; run keeps it alive.
    const child = 'trap "echo cleaning-up; sleep 0.3; echo cleaned; exit 9" INT; echo ready; while :; do sleep 0.05; done';
    await inTmux(ctx, `"${process.execPath}" "${BIN}" run --agent coder --sandbox -- sh -c ${shellQuote(child)}`, async (t, waitFor) => {
      await waitFor('ready');
      await t('send-keys', '-t', 'tui', 'C-c');
      const screen = await waitFor('EXIT=');
      expect(screen).toContain('cleaned');
      expect(screen).toContain('EXIT=9');
    });
  });
});

describe.skipIf(noBwrap)('the environment and the audit trail', () => {
  it('the child gets the same environment as without the sandbox, and can read its CA files', async () => {
    const count = (name: string) => `fs.readFileSync(e.${name},'utf8').split('BEGIN CERTIFICATE').length-1`;
    const probe = `const fs=require('fs');const e=process.env;console.log(JSON.stringify({env:e,ca:${count('NODE_EXTRA_CA_CERTS')},bundle:${count('SSL_CERT_FILE')}}))`;
    // The user's own NODE_EXTRA_CA_CERTS is carried over into the child's (gateway.md, run step 3).
    const env = { KEEP_ME: 'yes', NODE_EXTRA_CA_CERTS: s.upstream.caFile };
    const [inside, outside] = await Promise.all(['--sandbox', '--no-sandbox'].map((flag) => s.home.run(['run', '--agent', 'coder', flag, '--', process.execPath, '-e', probe], { env })));
    expect(inside!.code, inside!.stderr).toBe(0);
    const a = JSON.parse(inside!.stdout) as { env: Record<string, string>; ca: number; bundle: number };
    const b = JSON.parse(outside!.stdout) as { env: Record<string, string>; ca: number; bundle: number };
    // Each run has its own port, session token, placeholder and temporary folder.
    const perRun = (env: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
          k,
          v.replace(/agentauth-run-[A-Za-z0-9]+/, 'RUN').replace(/agent:[^@]+@127\.0\.0\.1:\d+/, 'PROXY').replace(/127\.0\.0\.1:\d+/, 'PORT').replace(/aa-ph-up-[A-Za-z0-9]+/, 'PLACEHOLDER'),
        ]),
      );
    expect(perRun(a.env)).toEqual(perRun(b.env));
    expect(a.env['KEEP_ME']).toBe('yes');
    expect(a.ca).toBe(2);
    expect(a.bundle).toBeGreaterThan(10);
    expect(a.bundle).toBe(b.bundle);
    // The CA files are not in agentauth's data folder, which the sandbox hides.
    expect(a.env['NODE_EXTRA_CA_CERTS']!.startsWith(s.home.home)).toBe(false);
  });

  it('run.start and run.end name the sandbox; without one they say why', async () => {
    expect((await sandboxed('true')).code).toBe(0);
    expect((await s.runShell('true', ['--no-sandbox'])).code).toBe(0);
    const lines = readAuditLines(s.home);
    const starts = lines.filter((line) => line.kind === 'run.start').map((line) => line['data'] as Record<string, unknown>);
    const ends = lines.filter((line) => line.kind === 'run.end').map((line) => line['data'] as Record<string, unknown>);
    expect(starts.at(-2)).toMatchObject({ sandbox: 'bwrap' });
    expect(starts.at(-2)).not.toHaveProperty('sandbox_reason');
    expect(starts.at(-1)).toMatchObject({ sandbox: 'none', sandbox_reason: 'turned off (--no-sandbox)' });
    expect(ends.slice(-2).map((end) => end['sandbox'])).toEqual(['bwrap', 'none']);
    const verify = await s.home.run(['audit', 'verify']);
    expect(verify.code, verify.stderr).toBe(0);
  });
});
