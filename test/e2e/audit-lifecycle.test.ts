// The audit log over a machine's years, end to end through the CLI (issue
// 13): rotation by hand and by size, verification of what retention leaves,
// hourly checkpoints for a cron job, and a trust score that a token carries
// and anyone holding the log recomputes.
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';

const run = promisify(execFile);
const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => json(line));

let home: TempHome;
let log: string;
const segments = () => readdirSync(home.home).filter((name) => /^audit-\d{6}-\d{8}\.jsonl(\.gz)?$/.test(name)).sort();

beforeAll(async () => {
  home = await makeInitialisedHome();
  log = join(home.home, 'audit.jsonl');
  expect((await home.run(['agent', 'add', 'bot', '--scope', 'repo:read', '--aud', 'api.example.com'])).code).toBe(0);
}, 60_000);
afterAll(() => home.cleanup());

describe('rotation and retention through the CLI', () => {
  it('audit rotate seals the log and starts segment 2; verify checks both and says where each starts; bad inputs change nothing', async () => {
    expect((await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'])).code).toBe(0);
    const rotated = await home.run(['audit', 'rotate', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const data = json(rotated.stdout);
    expect(data).toMatchObject({ segment: 2, live: log, sealed: expect.stringMatching(/audit-000001-\d{8}\.jsonl$/) });
    expect(segments()).toHaveLength(1);
    expect(lines(log)[0]).toMatchObject({ kind: 'log.init', seq: 0, data: { segment: 2, previous: { size: data['size'], root: data['root'] } } });

    const verify = await home.run(['audit', 'verify']);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toMatch(/verified 2 segments/);
    expect(verify.stdout).toMatch(/^1 +audit-000001-\d{8}\.jsonl +\d+ +sealed +the log’s first segment$/m);
    expect(verify.stdout).toMatch(/^2 +audit\.jsonl +1 +all signed +continues segment 1 at its checkpoint size \d+$/m);
    const alone = await home.run(['audit', 'verify', log]);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toMatch(/segment 2: continues audit-000001-\d{8}\.jsonl at its signed checkpoint size \d+ root [0-9a-f]{64}/);
    const folder = await home.run(['audit', 'verify', home.home, '--json']);
    expect(json(folder.stdout)).toMatchObject({ ok: true, events: expect.any(Number), segments: [{ segment: 1, previous: null }, { segment: 2, previous: { size: data['size'] } }] });

    // Bad inputs: a sealed segment is never written to; a path that is not there; a bad size.
    const sealed = data['sealed'] as string;
    const before = { sealed: readFileSync(sealed), live: readFileSync(log), config: readFileSync(join(home.home, 'config.json')) };
    const intoSealed = await home.run(['audit', 'rotate', '--log', sealed]);
    expect(intoSealed.code).toBe(2);
    expect(intoSealed.stderr).toMatch(/is a sealed segment of a rotated audit log: nothing is appended to it/);
    const missing = await home.run(['audit', 'verify', join(home.dir, 'nowhere')]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/there is no audit log at .*nowhere/);
    for (const value of ['banana', '100', '1T']) {
      const bad = await home.run(['config', 'set', 'audit.rotate-bytes', value]);
      expect(bad.code, value).toBe(2);
      expect(bad.stderr).toMatch(/audit\.rotate-bytes: .* (is not a size|is too small)/);
    }
    expect(readFileSync(sealed)).toEqual(before.sealed);
    expect(readFileSync(log)).toEqual(before.live);
    expect(readFileSync(join(home.home, 'config.json'))).toEqual(before.config);
  });

  it('rotates on its own past audit.rotate-bytes, also under concurrent writers; replay and verify follow every segment', async () => {
    expect((await home.run(['config', 'set', 'audit.rotate-bytes', '4k'])).code).toBe(0);
    expect((await home.run(['config', 'get', 'audit.rotate-bytes'])).stdout.trim()).toBe('4K');
    const perWriter = 6;
    const results = await Promise.all(Array.from({ length: 3 }, () => (async () => {
      const out: string[] = [];
      for (let i = 0; i < perWriter; i++) {
        const mint = await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com', '--json']);
        expect(mint.code, mint.stderr).toBe(0);
        out.push(json(mint.stdout)['jti'] as string);
      }
      return out;
    })()));
    const jtis = results.flat();
    expect(segments().length).toBeGreaterThanOrEqual(3);
    const verify = await home.run(['audit', 'verify', '--strict', '--json']);
    const report = json(verify.stdout);
    expect(report['error']).toBeNull();
    // Every acknowledged mint is in exactly one segment.
    const replay = await home.run(['audit', 'replay', '--kind', 'token.mint', '--json']);
    const minted = replay.stdout.trim().split('\n').map(json).filter((l) => l['type'] === 'event').map((l) => (l['data'] as { jti: string }).jti);
    for (const jti of jtis) expect(minted.filter((m) => m === jti), jti).toHaveLength(1);
    expect(replay.stdout).toMatch(/"segment":\d+/);
    const human = await home.run(['audit', 'replay', '--kind', 'token.mint']);
    expect(human.stdout).toMatch(/ #\d+:\d+ token\.mint bot minted /);
    expect((await home.run(['config', 'set', 'audit.rotate-bytes', 'off'])).code).toBe(0);
  }, 180_000);

  it('old segments gzipped and then deleted: what remains verifies from the signed checkpoint; a gap in the middle does not', async () => {
    const names = segments();
    const gz = `${names[0]}.gz`;
    writeFileSync(join(home.home, gz), gzipSync(readFileSync(join(home.home, names[0]!))));
    unlinkSync(join(home.home, names[0]!));
    const zipped = await home.run(['audit', 'verify', '--json']);
    expect(json(zipped.stdout)).toMatchObject({ ok: true, segments: expect.arrayContaining([expect.objectContaining({ file: join(home.home, gz), segment: 1 })]) });
    // A segment gone from the middle: a break.
    const middle = join(home.home, names[1]!);
    const kept = readFileSync(middle);
    rmSync(middle);
    const gap = await home.run(['audit', 'verify']);
    expect(gap.code).toBe(1);
    expect(gap.stdout).toMatch(/SEGMENT_GAP .*segment 2 between .* is missing/);
    writeFileSync(middle, kept, { mode: 0o600 });
    // Retention: the oldest two deleted.
    rmSync(join(home.home, gz));
    rmSync(middle);
    const rest = await home.run(['audit', 'verify']);
    expect(rest.code, rest.stdout).toBe(0);
    expect(rest.stdout).toMatch(/^3 +\S+ +\d+ +sealed +starts after audit-000002-\d{8}\.jsonl \(not here\): its signed checkpoint size \d+/m);
  });
});

describe('hourly checkpoints for a cron job (AGENTAUTH_TEST_NOW, honoured with NODE_ENV=test only)', () => {
  it('a script that mints once an hour gets a checkpoint with every mint', async () => {
    const count = () => lines(log).filter((l) => l['kind'] === 'checkpoint').length;
    // Start within an hour of the log's last checkpoint time; then every hour, with start-up jitter.
    const lastTs = lines(log).filter((l) => l['kind'] !== 'checkpoint').at(-1)!['ts'] as string;
    const start = Math.ceil(Date.parse(lastTs) / 3_600_000) * 3_600_000;
    const jitter = [40_000, 900, 75_000, 300, 20_000, 1_000];
    for (const [i, delay] of jitter.entries()) {
      const before = count();
      const now = new Date(start + (i + 1) * 3_600_000 + delay).toISOString();
      const mint = await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'], { env: { NODE_ENV: 'test', AGENTAUTH_TEST_NOW: now } });
      expect(mint.code, mint.stderr).toBe(0);
      expect(lines(log).filter((l) => l['kind'] !== 'checkpoint').at(-1)!['ts']).toBe(now);
      expect(count(), now).toBe(before + 1);
    }
    // Without NODE_ENV=test the variable is ignored.
    const ignored = await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'], { env: { AGENTAUTH_TEST_NOW: '2030-01-01T00:00:00.000Z' } });
    expect(ignored.code).toBe(0);
    expect(lines(log).filter((l) => l['kind'] !== 'checkpoint').at(-1)!['ts']).not.toBe('2030-01-01T00:00:00.000Z');
  });
});

describe('a trust score a token carries and anyone holding the log recomputes', () => {
  it('token mint --with-trust: the claim names a checkpoint; audit trust --at and an independent Python recomputation give the same score', async () => {
    const mint = await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com', '--with-trust', '--json']);
    expect(mint.code, mint.stderr).toBe(0);
    const minted = json(mint.stdout);
    const inspect = json((await home.run(['token', 'inspect', minted['token'] as string, '--json'])).stdout);
    const claim = (inspect['claims'] as Record<string, unknown>)['agentauth_trust'] as { v: number; score: number; log: { segment: number; size: number; root: string }; components: Record<string, number> };
    expect(claim).toMatchObject({ v: 1, score: expect.any(Number), log: { segment: expect.any(Number), size: expect.any(Number), root: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    // The checkpoint it names is in the log, and covers every event before the mint.
    const mintEvent = lines(log).filter((l) => l['kind'] === 'token.mint').at(-1)!;
    expect(mintEvent['data']).toMatchObject({ trust: { score: claim.score, size: claim.log.size, root: claim.log.root } });
    const recomputed = await home.run(['audit', 'trust', 'bot', '--at', claim.log.root, '--json']);
    expect(recomputed.code, recomputed.stderr).toBe(0);
    expect(json(recomputed.stdout)).toMatchObject({ log: claim.log, agents: [{ agent: 'bot', score: claim.score }] });
    const files = [...segments().map((name) => join(home.home, name)), log];
    const python = json((await run('/usr/bin/python3', [join(REPO_ROOT, 'test/fixtures/audit/trust.py'), '--at', claim.log.root, ...files])).stdout) as { agents: Record<string, { score: number }> };
    expect(python.agents['bot']).toEqual({ score: claim.score, ...claim.components });
    // Human output shows the parts.
    const human = await home.run(['audit', 'trust', 'bot']);
    expect(human.stdout).toMatch(/^bot trust \d+ \/ 1000$/m);
    expect(human.stdout).toMatch(/activity +\+\d+ +\d+ successful mint/);
  });

  it('bad inputs: an unknown agent, a malformed root, a root the log does not hold', async () => {
    const unknown = await home.run(['audit', 'trust', 'nobody']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/holds nothing about an agent named "nobody"/);
    const malformed = await home.run(['audit', 'trust', 'bot', '--at', 'xyz']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/--at takes a checkpoint's root/);
    const absent = await home.run(['audit', 'trust', 'bot', '--at', 'ab'.repeat(32)]);
    expect(absent.code).toBe(3);
    expect(absent.stderr).toMatch(/has no checkpoint with root abab/);
  });
});
