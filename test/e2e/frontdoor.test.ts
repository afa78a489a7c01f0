// `agentauth run -- claude` as a user meets it: the README's tour, run as
// written, against fake providers under their real names (api.anthropic.com,
// api.openai.com, github.com on 127.0.0.3:443, see fake-providers.ts), each
// refusing a wrong key with 401. One home and one fake for the whole file.
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
