// `agentauth run -- claude` as a user meets it: the README's tour, run as
// written, against fake providers under their real names (api.anthropic.com,
// api.openai.com, github.com on 127.0.0.3:443, see fake-providers.ts), each
// refusing a wrong key with 401. One home and one fake for the whole file.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';
import { skipSuiteWithout, skipWithout } from '../helpers/prerequisites.js';
import { eventsOf, shellQuote } from '../helpers/sandbox.js';
import { FAKE_REPLY } from '../fixtures/sandbox/fake-anthropic.js';
import { fakeProvidersMissing, startFakeProviders, type FakeProviders } from '../fixtures/gateway/fake-providers.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const BIN_DIR = join(REPO_ROOT, 'node_modules/.bin');
const CLAUDE_ENV = { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1', DISABLE_TELEMETRY: '1' };

/** The fenced block right after `<!-- snippet: NAME -->`, one command a line, comments dropped. */
function snippetLines(name: string): string[] {
  const match = new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(README);
  if (!match) throw new Error(`no snippet "${name}" in README.md`);
  return match[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

/** A README line's arguments after `agentauth` (the tour's lines hold no quotes or variables). */
function argsOf(line: string): string[] {
  const words = line.split(/\s+/);
  if (words[0] !== 'agentauth' || /['"$`\\|;&]/.test(line)) throw new Error(`not a plain agentauth line: ${line}`);
  return words.slice(1);
}

const missing = await fakeProvidersMissing();
const skip = skipSuiteWithout('the front door (fake providers under their real names)', missing);

let t: TempHome;
let fake: FakeProviders;
const audit = (kind: string) => eventsOf(join(t.home, 'audit.jsonl'), kind);

beforeAll(async () => {
  if (skip) return;
  // A fresh home, PATH with Claude Code's `claude` (the devDependency) on it, as after `npm install -g`.
  t = makeTempHome({ PATH: `${BIN_DIR}:${process.env['PATH']}` });
  t.env['AGENTAUTH_PASSPHRASE_FILE'] = t.passphraseFile;
  fake = await startFakeProviders(t.dir);
  // Claude Code's own state: onboarding done, as on any machine it ran on before.
  writeFileSync(join(t.dir, '.claude.json'), JSON.stringify({ hasCompletedOnboarding: true, lastOnboardingVersion: '2.1.110', theme: 'dark', projects: {} }));
  // The tour up to `run`, exactly as the README has it (the key piped, as the comment allows).
  for (const line of snippetLines('tour')) {
    const args = argsOf(line);
    if (args[0] === 'run') continue;
    const input = args[0] === 'secret' ? `${fake.keys.anthropic}\n` : undefined;
    const result = await fake.runAsUser(t, args, input === undefined ? {} : { input });
    if (result.code !== 0) throw new Error(`${line}: ${result.code}\n${result.stderr}`);
  }
  // More presets for the same agent.
  for (const [args, input] of [
    [['secret', 'add', 'openai', '--preset', 'openai'], fake.keys.openai],
    [['secret', 'add', 'github', '--preset', 'github'], fake.keys.github],
    [['grant', 'coder', 'openai']],
    [['grant', 'coder', 'github']],
  ] as [string[], string?][]) {
    const result = await fake.runAsUser(t, args, input === undefined ? {} : { input: `${input}\n` });
    if (result.code !== 0) throw new Error(`${args.join(' ')}: ${result.code}\n${result.stderr}`);
  }
}, 120_000);
afterAll(async () => {
  await fake?.close();
  t?.cleanup();
});

describe.skipIf(skip)('the README tour, as written', () => {
  it('starts with secret add --preset anthropic and run -- claude', () => {
    const lines = snippetLines('tour');
    expect(lines).toContain('agentauth secret add anthropic --preset anthropic');
    expect(lines).toContain('agentauth run -- claude');
  });

  it('the fake refuses a wrong key (so a 200 below means the gateway swapped in the real one)', async () => {
    const r = await execa('curl', ['-sS', '--cacert', fake.caFile, '--resolve', 'api.anthropic.com:443:127.0.0.3', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', 'https://api.anthropic.com/v1/messages', '-H', 'x-api-key: aa-ph-anthropic-wrong', '-d', '{}'], { reject: false });
    expect(r.stdout).toBe('401');
  });

  it('claude -p answers through the gateway with the anthropic preset', async () => {
    const before = fake.anthropicSeen.length;
    const r = await fake.runAsUser(t, ['run', '--', 'claude', '-p', 'hi'], { env: CLAUDE_ENV, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(FAKE_REPLY);
    expect(r.stdout + r.stderr).not.toContain(fake.keys.anthropic);
    const calls = fake.anthropicSeen.slice(before);
    expect(calls.filter((call) => call.path === '/v1/messages').length).toBeGreaterThan(0);
    expect(calls.every((call) => call.apiKey === fake.keys.anthropic)).toBe(true);
    expect(audit('gateway.request').filter((event) => event['path'] === '/v1/messages').at(-1)).toMatchObject({ secret: 'anthropic', status: 200, host: 'api.anthropic.com', port: 443 });
  });
});

/** The last line of `audit replay --json`: the summary. */
function summaryOf(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

/** `agentauth run --agent AGENT -- sh -c SCRIPT`, with the fake providers in view. */
function runShell(script: string, agent = 'coder', env: Record<string, string> = {}) {
  return fake.runAsUser(t, ['run', '--agent', agent, '--', 'sh', '-c', script], { env, timeoutMs: 60_000 });
}

describe.skipIf(skip)('interactive Claude Code under tmux', () => {
  it('asks about the "custom API key" once: the second run with the same agent goes straight to the prompt', async (ctx) => {
    const tmux = await execa('tmux', ['-V'], { reject: false });
    skipWithout(ctx, tmux.exitCode === 0 ? null : 'tmux (apt-get install tmux)');
    const project = join(t.dir, 'project');
    mkdirSync(project, { recursive: true });
    // A folder Claude Code was already told to trust, so that its only question can be the key's.
    const state = JSON.parse(readFileSync(join(t.dir, '.claude.json'), 'utf8')) as { projects: Record<string, unknown> };
    state.projects[project] = { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true, allowedTools: [] };
    writeFileSync(join(t.dir, '.claude.json'), JSON.stringify(state));
    const socket = `aa-claude-${randomBytes(4).toString('hex')}`;
    const wrapper = join(t.dir, 'claude-tui.sh');
    const exports = Object.entries({ ...t.env, ...CLAUDE_ENV, TERM: 'xterm-256color' }).map(([key, value]) => `export ${key}=${shellQuote(value)}`).join('\n');
    const [line] = snippetLines('tour').filter((entry) => entry.startsWith('agentauth run'));
    const command = [...fake.wrapArgs, process.execPath, join(REPO_ROOT, 'bin/agentauth.js'), ...argsOf(line!)].map(shellQuote).join(' ');
    writeFileSync(wrapper, `${exports}\ncd ${shellQuote(project)}\n${command}\necho "EXIT=$?"\nsleep 60\n`);
    chmodSync(wrapper, 0o700);
    const tm = (...args: string[]) => execa('tmux', ['-L', socket, '-f', '/dev/null', ...args], { reject: false });
    const screen = async () => (await tm('capture-pane', '-p', '-t', 'cc')).stdout;
    const waitFor = async (pattern: RegExp, ms = 60_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const content = await screen();
        if (pattern.test(content)) return content;
        if (Date.now() > deadline) throw new Error(`tmux screen never showed ${pattern}:\n${content}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const approvedKeys = () => (JSON.parse(readFileSync(join(t.dir, '.claude.json'), 'utf8')) as { customApiKeyResponses?: { approved?: string[] } }).customApiKeyResponses?.approved ?? [];
    const session = async (answer: boolean) => {
      await tm('new-session', '-d', '-x', '120', '-y', '40', '-s', 'cc', `sh ${wrapper}`);
      try {
        const first = await waitFor(/custom API key|Try "|\? for shortcuts/);
        const asked = /custom API key/.test(first);
        if (asked && answer) {
          // "No (recommended)" is the default: choose "Yes".
          await tm('send-keys', '-t', 'cc', 'Up');
          await tm('send-keys', '-t', 'cc', 'Enter');
          await waitFor(/Try "|\? for shortcuts/);
          // Claude Code writes its answer to ~/.claude.json on its own time: exit only once it is there.
          for (let i = 0; i < 100 && approvedKeys().length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const ready = await screen();
        await tm('send-keys', '-t', 'cc', 'C-c');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await tm('send-keys', '-t', 'cc', 'C-c');
        await waitFor(/EXIT=\d+/, 20_000);
        return { asked, ready };
      } finally {
        await tm('kill-server');
      }
    };
    const first = await session(true);
    expect(first.asked, first.ready).toBe(true);
    // What Claude Code remembered: the placeholder's last 20 characters (never the real key's).
    const approved = approvedKeys();
    expect(approved).toHaveLength(1);
    expect(fake.keys.anthropic.endsWith(approved[0]!)).toBe(false);
    const second = await session(false);
    expect(second.asked, second.ready).toBe(false);
    expect(second.ready).not.toMatch(/Not logged in|Invalid API key/);
  }, 180_000);
});

describe.skipIf(skip)('clients with the presets', () => {
  it('Claude Code with an apiKeyHelper that prints the placeholder: both x-api-key and Authorization: Bearer are swapped', async () => {
    const before = fake.anthropicSeen.length;
    const settings = JSON.stringify({ apiKeyHelper: 'printf %s "$ANTHROPIC_API_KEY"' });
    const r = await fake.runAsUser(t, ['run', '--', 'claude', '--settings', settings, '-p', 'hi'], { env: CLAUDE_ENV, timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(FAKE_REPLY);
    const calls = fake.anthropicSeen.slice(before).filter((call) => call.path === '/v1/messages');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.apiKey).toBe(fake.keys.anthropic);
      expect(call.authorization).toBe(`Bearer ${fake.keys.anthropic}`);
    }
  });

  it(`@anthropic-ai/sdk (Authorization: Bearer) on Node ${process.versions.node}, through the gateway (Node 20: run's preload)`, async () => {
    const r = await runShell(`"${process.execPath}" "${join(REPO_ROOT, 'test/fixtures/gateway/anthropic-sdk-client.mjs')}"`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(FAKE_REPLY);
    expect(fake.anthropicSeen.at(-1)).toMatchObject({ path: '/v1/messages', authorization: `Bearer ${fake.keys.anthropic}` });
  });

  it('a denial reaches the SDK in the provider\'s error shape: the SDK shows agentauth\'s reason', async () => {
    // The placeholder as a query parameter, where no preset puts it: refused before the provider.
    const before = fake.seen.length;
    const r = await runShell(`curl -sS "https://api.anthropic.com/v1/messages?key=$ANTHROPIC_API_KEY" -d '{}'; "${process.execPath}" "${join(REPO_ROOT, 'test/fixtures/gateway/anthropic-sdk-client.mjs')}" misplaced`);
    expect(fake.seen.length).toBe(before);
    const [curlLine, sdkLine] = r.stdout.split('\n');
    const body = JSON.parse(curlLine!) as { reason: string; error: { type: string; message: string } };
    expect(body).toMatchObject({ reason: 'placeholder-misplaced', error: { type: 'permission_error' } });
    expect(body.error.message).toMatch(/^agentauth: /);
    expect(sdkLine, r.stdout + r.stderr).toMatch(/^403 .*agentauth: /);
  });

  it('Python httpx, shaped like the anthropic and openai SDKs (x-api-key; Authorization: Bearer), through HTTPS_PROXY', async (ctx) => {
    const httpx = await execa('/usr/bin/python3', ['-c', 'import httpx'], { reject: false });
    skipWithout(ctx, httpx.exitCode === 0 ? null : 'Debian python3 with httpx (apt-get install python3-httpx)');
    const script = [
      'import os, httpx',
      'with httpx.Client(timeout=20) as c:',
      '    r = c.post("https://api.anthropic.com/v1/messages", headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"], "anthropic-version": "2023-06-01"}, json={"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})',
      '    print(r.status_code, r.json()["content"][0]["text"])',
      '    r = c.post("https://api.openai.com/v1/chat/completions", headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}, json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]})',
      '    print(r.status_code, r.json()["choices"][0]["message"]["content"])',
    ].join('\n');
    const r = await runShell(`/usr/bin/python3 -c ${shellQuote(script)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`200 ${FAKE_REPLY}\n200 Hello from the fake OpenAI API`);
    expect(fake.seen.filter((request) => request.host === 'api.openai.com').at(-1)?.authorization).toBe(`Bearer ${fake.keys.openai}`);
    expect(r.stdout + r.stderr).not.toContain(fake.keys.openai);
  });

  it('git clone with the token in the URL, and with a credential helper (the github preset, Basic x-access-token)', async () => {
    const helper = '!f() { echo username=x-access-token; echo "password=$GH_TOKEN"; }; f';
    const r = await runShell(
      [
        'set -e; cd "$HOME"; rm -rf w1 w2',
        'git clone -q "https://x-access-token:$GITHUB_TOKEN@github.com/acme/widgets.git" w1',
        `git -c credential.helper= -c credential.helper=${shellQuote(helper)} clone -q https://github.com/acme/widgets.git w2`,
        'cat w1/README w2/README; git -C w1 remote get-url origin',
      ].join('\n'),
    );
    expect(r.code, r.stderr).toBe(0);
    const [first, second, remote] = r.stdout.split('\n');
    expect([first, second]).toEqual(['widgets', 'widgets']);
    // The clone keeps the URL it was given: the placeholder, worthless anywhere but through the gateway.
    expect(remote).toMatch(/^https:\/\/x-access-token:aa-ph-github-[A-Za-z0-9]+@github.com\/acme\/widgets.git$/);
    expect(r.stdout + r.stderr).not.toContain(fake.keys.github);
    expect(readFileSync(join(t.dir, 'w1', '.git', 'config'), 'utf8')).not.toContain(fake.keys.github);
    const git = fake.seen.filter((request) => request.host === 'github.com' && request.authorization);
    expect(git.length).toBeGreaterThanOrEqual(2);
    expect(git.every((request) => request.authorization === `Basic ${Buffer.from(`x-access-token:${fake.keys.github}`).toString('base64')}`)).toBe(true);
  });
});

describe.skipIf(skip)('run records', () => {
  it('a run longer than its session token\'s half-life: renewals keep the run id, no false RUN_NOT_ENDED, later requests still checked', async () => {
    // A second agent (after the tests that leave --agent out), whose sessions last 4 s: renewed every 2 s.
    const added = await t.run(['agent', 'add', 'brief', '--scope', 'repo:read', '--max-ttl', '4s', '--secret', 'anthropic']);
    expect(added.code, added.stderr).toBe(0);
    const curl = (query = '') => `curl -sS -o /dev/null -w '%{http_code}\\n' "https://api.anthropic.com/v1/messages${query}" -H "x-api-key: $ANTHROPIC_API_KEY" -d '{}'`;
    const r = await runShell(`${curl()}; sleep 5; ${curl()}; ${curl('?key=$ANTHROPIC_API_KEY')}`, 'brief');
    expect(r.code, r.stderr).toBe(0);
    // Swapped both times (200 from the fake), and still checked after renewals: the placeholder in the query is refused.
    expect(r.stdout).toBe('200\n200\n403');
    const start = audit('run.start').at(-1)!;
    const mints = audit('token.mint').filter((event) => event['run'] === start['run']);
    expect(mints.length, 'the session was renewed').toBeGreaterThanOrEqual(2);
    const end = audit('run.end').at(-1)!;
    expect(end['run']).toBe(start['run']);
    expect(end['jti']).not.toBe(start['jti']);
    const replay = await t.run(['audit', 'replay', '--agent', 'brief', '--json']);
    expect(replay.code, replay.stderr).toBe(0);
    const summary = summaryOf(replay.stdout);
    expect(summary).toMatchObject({ verified: true, violations: [] });
    expect(summary['agents']).toEqual([expect.objectContaining({ agent: 'brief', requests: 2, denied: 1, runsStarted: 1, runsEnded: 1 })]);
  });

  it('a missing command writes run.fail (127 and why), the log verifies, and claude-code is told the command is claude', async () => {
    const r = await fake.runAsUser(t, ['run', '--agent', 'coder', '--', 'claude-code']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('command not found: claude-code');
    expect(r.stderr).toContain('the command is called claude: agentauth run -- claude');
    expect(audit('run.fail').at(-1)).toMatchObject({ command: 'claude-code', exit_code: 127, code: 'COMMAND_NOT_FOUND', reason: 'command not found: claude-code' });
    const fail = audit('run.fail').at(-1)!;
    expect(audit('token.mint').some((event) => event['run'] === fail['run'])).toBe(true);
    expect(audit('run.start').some((event) => event['run'] === fail['run'])).toBe(false);
    const verify = await t.run(['audit', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const replay = await t.run(['audit', 'replay', '--json']);
    expect(summaryOf(replay.stdout)).toMatchObject({ verified: true, violations: [] });
  });
});
