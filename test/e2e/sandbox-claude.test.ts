// `agentauth run -- claude` in the sandbox: Claude Code (the npm package, a
// devDependency) in print mode, against a local stand-in for the Anthropic
// API over TLS, through the gateway. Claude Code honours HTTPS_PROXY and
// NODE_EXTRA_CA_CERTS, so ANTHROPIC_BASE_URL can name the fake host's own
// https:// URL and the request still goes through the gateway, which swaps
// the placeholder in x-api-key for the real key.
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';
import { bwrapMissing, eventsOf } from '../helpers/sandbox.js';
import { FAKE_REPLY, startFakeAnthropic, type FakeAnthropic } from '../fixtures/sandbox/fake-anthropic.js';

const noBwrap = await bwrapMissing('Claude Code in the sandbox');
const CLAUDE = join(REPO_ROOT, 'node_modules/@anthropic-ai/claude-code/cli.js');
const REAL_KEY = 'sk-ant-api03-REAL-0123456789abcdefghij';

let t: TempHome;
let fake: FakeAnthropic;
beforeAll(async () => {
  t = await makeInitialisedHome();
  fake = await startFakeAnthropic({ dir: t.dir, realKey: REAL_KEY });
  const must = async (args: string[], input?: string) => {
    const r = await t.run(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  await must(['agent', 'add', 'coder', '--scope', 'repo:read']);
  await must(['secret', 'add', 'anthropic', '--host', fake.authority, '--header', 'x-api-key', '--env', 'ANTHROPIC_API_KEY'], `${REAL_KEY}\n`);
  await must(['grant', 'coder', 'anthropic']);
});
afterAll(async () => {
  await fake?.close();
  t?.cleanup();
});

describe.skipIf(noBwrap)('Claude Code under agentauth run, sandboxed', () => {
  it('the fake API refuses a wrong key (so a 200 below means the gateway swapped in the real one)', async () => {
    const r = await execa('curl', ['-sS', '--cacert', fake.caFile, '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${fake.url}/v1/messages`, '-H', 'x-api-key: aa-ph-anthropic-wrong', '-d', '{}'], { reject: false });
    expect(r.stdout).toBe('401');
  });

  it('claude -p answers through the gateway, with its own files in ~/.claude and ~/.claude.json', async () => {
    expect(existsSync(CLAUDE), 'npm ci installs @anthropic-ai/claude-code').toBe(true);
    // Claude Code's own state, from an earlier session: it must stay readable and writable.
    mkdirSync(join(t.dir, '.claude'), { recursive: true });
    writeFileSync(join(t.dir, '.claude', 'settings.json'), '{"env":{}}\n');
    const before = fake.seen.length;
    const r = await t.run(['run', '--agent', 'coder', '--sandbox', '--deny-unlisted', '--upstream-ca', fake.caFile, '--', process.execPath, CLAUDE, '-p', 'hi'], {
      env: { ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' },
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(FAKE_REPLY);
    expect(r.stdout + r.stderr).not.toContain(REAL_KEY);
    const calls = fake.seen.slice(before);
    expect(calls.filter((call) => call.path === '/v1/messages').length).toBeGreaterThan(0);
    expect(calls.every((call) => call.apiKey === REAL_KEY)).toBe(true);
    // It wrote its own files in HOME from inside the sandbox.
    expect(JSON.parse(readFileSync(join(t.dir, '.claude.json'), 'utf8'))).toHaveProperty('userID');
    expect(existsSync(join(t.dir, '.claude', 'projects'))).toBe(true);
    expect(eventsOf(join(t.home, 'audit.jsonl'), 'run.start').at(-1)).toMatchObject({ command: 'node', sandbox: 'bwrap' });
    const requests = eventsOf(join(t.home, 'audit.jsonl'), 'gateway.request').filter((event) => event['path'] === '/v1/messages');
    expect(requests.at(-1)).toMatchObject({ secret: 'anthropic', status: 200, host: fake.host });
  });
});
