// What a person meets when reading the audit log (issue 13, items 3, 10 and
// 12): a closed pipe is a normal end, verify says once what is unsigned and
// what to do, shows progress on a terminal only, and replay reads like
// sentences, in UTC or local time.
import { execa } from 'execa';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogKey } from '../../src/core/audit/log-key.js';
import { appendEvents } from '../../src/core/audit/writer.js';
import { BIN, makeInitialisedHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';

const run = promisify(execFile);
let home: TempHome;
let big: { file: string; vkey: string };
let large: { file: string; vkey: string };
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

async function generate(name: string, events: number): Promise<{ file: string; vkey: string }> {
  const file = join(home.dir, name);
  const out = await run(process.execPath, [join(REPO_ROOT, 'bench/audit-gen.mjs'), '--out', file, '--events', String(events)], { maxBuffer: 1 << 20 });
  return { file, vkey: (JSON.parse(out.stdout) as { vkey: string }).vkey };
}

/** `agentauth ARGS | head -1` in a real shell pipe: agentauth's exit status and stderr. */
async function pipeToHead(args: string[]): Promise<{ status: number; first: string; stderr: string }> {
  const envs = Object.entries(home.env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
  const script = `env -i ${envs} ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')} 2>${quote(join(home.dir, 'stderr.txt'))} | head -1; echo "status=\${PIPESTATUS[0]}"`;
  const result = await execa('bash', ['-c', script], { reject: false, timeout: 60_000 });
  const lines = result.stdout.split('\n');
  return { status: Number(/status=(\d+)/.exec(result.stdout)?.[1] ?? -1), first: lines[0] ?? '', stderr: readFileSync(join(home.dir, 'stderr.txt'), 'utf8') };
}

beforeAll(async () => {
  home = await makeInitialisedHome();
  expect((await home.run(['agent', 'add', 'bot', '--scope', 'repo:read', '--aud', 'api.example.com', '--max-ttl', '2h'])).code).toBe(0);
  expect((await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'])).code).toBe(0);
  big = await generate('big.jsonl', 6000);
  large = await generate('large.jsonl', 21000);
}, 120_000);
afterAll(() => home.cleanup());

describe('a reader that goes away is a normal end (item 3)', () => {
  it('audit replay | head -1 exits 0 with no EPIPE trace, human or --json', async () => {
    for (const args of [['audit', 'replay', big.file, '--vkey', big.vkey], ['audit', 'replay', big.file, '--vkey', big.vkey, '--json'], ['audit', 'tail', '--log', big.file, '-n', '3000']]) {
      const result = await pipeToHead(args);
      expect(result.status, args.join(' ')).toBe(0);
      expect(result.first.length, args.join(' ')).toBeGreaterThan(0);
      expect(result.stderr, args.join(' ')).not.toMatch(/EPIPE|at |node:internal|internal error/);
    }
  });

  it('audit tail -f | head -1 ends at the next event instead of dying', async () => {
    const log = join(home.home, 'audit.jsonl');
    const envs = Object.entries(home.env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');
    const pipeline = execa('bash', ['-c', `env -i ${envs} ${quote(process.execPath)} ${quote(BIN)} audit tail -f -n 1 2>${quote(join(home.dir, 'tail-err.txt'))} | head -1; echo "status=\${PIPESTATUS[0]}"`], { reject: false, timeout: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'])).code).toBe(0);
    const result = await pipeline;
    expect(result.stdout).toMatch(/status=0/);
    expect(readFileSync(join(home.dir, 'tail-err.txt'), 'utf8')).toBe('');
    expect(readFileSync(log, 'utf8')).toContain('token.mint');
  });
});

describe('audit verify output (item 10)', () => {
  it('says once how many events are not signed yet, and to run audit checkpoint', async () => {
    const result = await home.run(['audit', 'verify']);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/not signed yet/g)).toHaveLength(1);
    expect(result.stdout).toMatch(/\d+ event\(s\) are not signed yet: run agentauth audit checkpoint/);
    expect(result.stdout).not.toContain('UNCOVERED_TAIL');
    expect(result.stderr).toBe('');
    expect((await home.run(['audit', 'checkpoint'])).code).toBe(0);
    const covered = await home.run(['audit', 'verify']);
    expect(covered.stdout).not.toContain('not signed yet');
    expect(covered.stdout).toMatch(/every event is covered by the last checkpoint/);
  });

  it('shows a progress line on stderr for a large log on a terminal, and never when stderr is not one', async (context) => {
    // script(1) (bsdutils) runs the command on a pseudo-terminal.
    skipWithout(context, (await execa('script', ['-qec', 'true', '/dev/null'], { reject: false })).exitCode === 0 ? null : 'script (apt-get install bsdutils)');
    const command = `${quote(process.execPath)} ${quote(BIN)} audit verify ${quote(large.file)} --vkey ${quote(large.vkey)}`;
    const tty = await execa('script', ['-qec', command, '/dev/null'], { env: { ...home.env, TERM: 'xterm' }, extendEnv: false, reject: false, timeout: 60_000 });
    expect(tty.exitCode, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/verifying the audit log: \d+% \(\d+ of \d+ MiB\)/);
    // Wiped before the result is printed.
    expect(tty.stdout).toMatch(/\r\u001b\[2K(\u001b\[\d+m)?verified/);
    const piped = await home.run(['audit', 'verify', large.file, '--vkey', large.vkey]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).not.toContain('verifying the audit log');
    // A small log on a terminal: no progress line either.
    const small = await execa('script', ['-qec', `${quote(process.execPath)} ${quote(BIN)} audit verify ${quote(big.file)} --vkey ${quote(big.vkey)}`, '/dev/null'], { env: { ...home.env, TERM: 'xterm' }, extendEnv: false, reject: false });
    expect(small.stdout).not.toContain('verifying the audit log');
  });
});

describe('audit replay reads like sentences (item 12)', () => {
  it('agent.add and other entries are described, runs say started and ended, times are UTC unless --local-time', async () => {
    const utc = await home.run(['audit', 'replay']);
    expect(utc.code).toBe(0);
    expect(utc.stdout).toMatch(/ agent\.add bot agent bot added: scopes repo:read; max ttl 2h; audiences api\.example\.com/);
    expect(utc.stdout).toMatch(/ log\.init \S+ log started for agentauth\.local\//);
    expect(utc.stdout).toMatch(/ key\.create \S+ issuer key \S+ created \(EdDSA, file backend\)/);
    expect(utc.stdout).not.toMatch(/\{"/);
    expect(utc.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z #0 log\.init/m);
    const local = await home.run(['audit', 'replay', '--local-time'], { env: { TZ: 'Asia/Kolkata' } });
    expect(local.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+05:30 #0 log\.init/m);
    const tail = await home.run(['audit', 'tail', '-n', '20', '--local-time'], { env: { TZ: 'America/New_York' } });
    expect(tail.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} -0[45]:00 #\d+ token\.mint/m);
    // Runs: the summary says what its numbers are.
    const origin = 'agentauth.local/runs';
    const key = await createLogKey(origin);
    const file = join(home.dir, 'runs.jsonl');
    const event = (kind: string, data: Record<string, unknown>) => ({ kind, actor: { sub: 'user:alice' }, data });
    await appendEvents(file, [event('log.init', { origin, vkey: key.vkey }), event('token.mint', { agent: 'coder', exp: 4102444800, jti: 's1' }), event('run.start', { agent: 'coder', command: 'claude', jti: 's1', port: 1 }), event('run.end', { agent: 'coder', exit_code: 0, jti: 's1' }), event('run.start', { agent: 'coder', command: 'claude', jti: 's1', port: 1 })], { origin, vkey: key.vkey });
    const runs = await home.run(['audit', 'replay', file, '--vkey', key.vkey]);
    expect(runs.stdout).toMatch(/^coder +1 +0 +0 +- +- +2 started, 1 ended$/m);
    expect(runs.stdout).toMatch(/RUN_NOT_ENDED/);
  });
});
