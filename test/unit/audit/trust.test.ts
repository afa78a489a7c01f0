// The trust score (trust.ts, docs/trust.md): a scripted history gives the
// documented score, and an independent recomputation in Python, written from
// docs/trust.md alone, gives the same numbers from the log file.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTrustClaim, computeTrust, toTrustClaim } from '../../../src/core/audit/trust.js';
import { tallyTrustAt } from '../../../src/core/audit/trust-log.js';
import type { ReplayEvent } from '../../../src/core/audit/replay.js';
import { appendEvents } from '../../../src/core/audit/writer.js';
import { makeFixture, type Fixture } from './helpers.js';

const run = promisify(execFile);
const TRUST_PY = join(import.meta.dirname, '../../fixtures/audit/trust.py');

type Step = [ts: string, kind: string, actor: Record<string, unknown>, data: Record<string, unknown>];
const user = { sub: 'user:alice' };
const bot = (jti: string) => ({ sub: 'agent:bot', jti });
const exp = Date.parse('2026-10-02T00:00:00.000Z') / 1000;
const request = (extra: Record<string, unknown>) => ({ method: 'GET', host: 'api.github.com', path: '/user', ms: 12, ...extra });

// bot: added 1 Oct, 52 full days before the last counted event → age 104.
// Successes 5 (a mint, three requests that went through, a run that ended 0) → +5.
// Denials: a misplaced placeholder (150) and a not-granted (25) → −175. One refused mint → −30.
// Violations: a secret outside its session, and a request after exp → −120. One log.recover → −50.
// 500 + 104 + 5 − 175 − 30 − 120 − 50 = 234.
// eve: age 104, one request that went through (+1) with a jti never minted (−60), the recover (−50) → 495.
// mallory: added after the recover, 2 full days (+4), one mint (+1) → 505.
const history: Step[] = [
  ['2026-10-01T00:00:00.000Z', 'log.init', user, {}],
  ['2026-10-01T00:00:01.000Z', 'agent.add', user, { agent: 'bot', max_ttl: 3600, scope: 'repo:read', secrets: ['gh'] }],
  ['2026-10-01T00:00:02.000Z', 'agent.add', user, { agent: 'eve', max_ttl: 3600, scope: 'repo:read', secrets: [] }],
  ['2026-10-01T00:10:00.000Z', 'token.mint', user, { agent: 'bot', aud: 'gateway', exp, jti: 'j1', kid: 'k', scope: 'repo:read' }],
  ['2026-10-01T00:10:01.000Z', 'run.start', user, { agent: 'bot', command: 'claude', jti: 'j1', port: 4000, secrets: ['gh'] }],
  ['2026-10-01T00:10:02.000Z', 'gateway.request', bot('j1'), request({ decision: 'allow', secret: 'gh', status: 200 })],
  ['2026-10-01T00:10:03.000Z', 'gateway.request', bot('j1'), request({ decision: 'allow', secret: 'gh', status: 401 })],
  ['2026-10-01T00:10:04.000Z', 'gateway.deny', bot('j1'), request({ decision: 'deny', host: 'evil.example', reason: 'placeholder-misplaced', secret: 'gh', status: 403 })],
  ['2026-10-01T00:10:05.000Z', 'gateway.deny', bot('j1'), request({ decision: 'deny', method: 'DELETE', reason: 'not-granted', secret: 'gh', status: 403 })],
  ['2026-10-01T00:10:06.000Z', 'gateway.request', bot('j1'), request({ decision: 'allow', host: 'aws.example', secret: 'aws', status: 200 })],
  ['2026-10-01T00:20:00.000Z', 'run.end', user, { agent: 'bot', denied: 2, exit_code: 0, jti: 'j1', ms: 600000, requests: 3 }],
  ['2026-10-03T00:00:00.000Z', 'gateway.request', bot('j1'), request({ decision: 'allow', secret: 'gh', status: 200 })],
  ['2026-10-03T00:00:01.000Z', 'token.refuse', user, { agent: 'bot', asked: { scope: 'repo:write' }, reason: 'SCOPE_NOT_ALLOWED' }],
  ['2026-10-04T00:00:00.000Z', 'gateway.request', { sub: 'agent:eve', jti: 'nope' }, request({ decision: 'allow', status: 200 })],
  ['2026-10-05T00:00:00.000Z', 'log.recover', user, { file: 'audit.jsonl.torn-100', length: 10, offset: 100, sha256: '00'.repeat(32) }],
  ['2026-11-20T00:00:00.000Z', 'agent.add', user, { agent: 'mallory', max_ttl: 3600, scope: 'x:y', secrets: [] }],
  ['2026-11-22T12:00:00.000Z', 'token.mint', user, { agent: 'mallory', aud: 'api', exp: 1795000000, jti: 'm1', kid: 'k', scope: 'x:y' }],
];
// After the checkpoint: not counted.
const later: Step = ['2026-11-22T12:30:00.000Z', 'gateway.deny', bot('j1'), request({ decision: 'deny', reason: 'placeholder-misplaced', status: 403 })];
const EXPECTED = { bot: 234, eve: 495, mallory: 505 };

let f: Fixture;
beforeAll(async () => {
  f = await makeFixture();
  for (const [i, [ts, kind, actor, data]] of history.entries()) {
    const event = kind === 'log.init' ? { kind, actor, data: { origin: f.origin, vkey: f.vkey } } : { kind, actor, data };
    await appendEvents(f.file, [event], { origin: f.origin, vkey: f.vkey, signer: () => f.signer, now: () => new Date(ts), forceCheckpoint: i === history.length - 1, checkpointEvery: { events: 1000, ms: 1e12 } });
  }
  const [ts, kind, actor, data] = later;
  await appendEvents(f.file, [{ kind, actor, data }], { origin: f.origin, vkey: f.vkey, signer: () => f.signer, now: () => new Date(ts) });
});
afterAll(() => f.cleanup());

const asEvents = (steps: Step[]): ReplayEvent[] => steps.map(([ts, kind, actor, data], seq) => ({ seq, ts, kind, actor, data }));

describe('the trust score', () => {
  it('a scripted history gives the documented scores, with their parts', () => {
    const score = computeTrust(asEvents(history), 'bot');
    expect(score).toMatchObject({
      agent: 'bot',
      score: EXPECTED.bot,
      added: '2026-10-01T00:00:01.000Z',
      at: '2026-11-22T12:00:00.000Z',
      components: {
        age_days: 52,
        age: 104,
        successes: 5,
        activity: 5,
        denied: { 'not-granted': 1, 'placeholder-misplaced': 1 },
        denials: 175,
        refused: 1,
        refusals: 30,
        violated: { OUT_OF_SCOPE: 1, USED_AFTER_EXP: 1 },
        violations: 120,
        recovered: 1,
        rewritten: 0,
        integrity: 50,
      },
    });
    expect(computeTrust(asEvents(history), 'eve')).toMatchObject({ score: EXPECTED.eve, components: { violated: { UNKNOWN_JTI: 1 }, successes: 1 } });
    expect(computeTrust(asEvents(history), 'mallory')).toMatchObject({ score: EXPECTED.mallory, components: { age_days: 2, recovered: 0 } });
  });

  it('is clamped to 0–1000, caps age and activity, and a name added again starts afresh', () => {
    const many = (kind: string, n: number, extra: Record<string, unknown>): Step[] => Array.from({ length: n }, (_, i) => [`2027-06-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, kind, bot(`j${i}`), extra]);
    const good = computeTrust(asEvents([history[1]!, ...many('token.mint', 400, { agent: 'bot', jti: 'x' })]), 'bot');
    expect(good.components).toMatchObject({ age: 200, activity: 300 });
    expect(good.score).toBe(1000);
    const bad = computeTrust(asEvents([history[1]!, ...many('gateway.deny', 10, { reason: 'placeholder-misplaced' })]), 'bot');
    expect(bad.score).toBe(0);
    const readded = computeTrust(asEvents([...history.slice(0, 15), ['2026-11-01T00:00:00.000Z', 'agent.add', user, { agent: 'bot' }], ['2026-11-02T00:00:00.000Z', 'log.rewritten', user, { missing_seq: 3 }]]), 'bot');
    expect(readded.components).toMatchObject({ age_days: 1, successes: 0, denials: 0, violations: 0, recovered: 0, rewritten: 1, integrity: 400 });
    expect(readded.score).toBe(102);
  });

  it('from the log: counts only what the checkpoint covers, and an independent Python recomputation from docs/trust.md agrees', async () => {
    const counted = await tallyTrustAt([f.file], { vkey: f.vkey });
    expect(counted.uncounted).toBe(1);
    expect(counted.log).toMatchObject({ segment: 1, size: history.length });
    expect(Object.fromEntries(counted.tally.agents().map((a) => [a, counted.tally.score(a).score]))).toEqual(EXPECTED);
    const python = JSON.parse((await run('/usr/bin/python3', [TRUST_PY, f.file])).stdout) as { size: number; root: string; agents: Record<string, { score: number }> };
    expect(python.size).toBe(counted.log.size);
    expect(python.root).toBe(counted.log.root);
    expect(Object.fromEntries(Object.entries(python.agents).map(([a, s]) => [a, s.score]))).toEqual(EXPECTED);
    // Part by part too.
    const claim = toTrustClaim(counted.tally.score('bot'), counted.log);
    expect(python.agents['bot']).toEqual({ score: claim.score, ...claim.components });
    // At an earlier checkpoint (--at ROOT): the same agreement.
    const early = await tallyTrustAt([f.file], { vkey: f.vkey }, counted.log.root);
    expect(early.tally.score('bot').score).toBe(EXPECTED.bot);
  });

  it('checkTrustClaim: present, well formed, at least minTrust', () => {
    const claim = { v: 1, score: 700, log: { origin: 'agentauth.local/x', segment: 1, size: 10, root: 'ab'.repeat(32) }, components: {} };
    expect(checkTrustClaim({ agentauth_trust: claim }, 700)).toEqual({ ok: true, score: 700, log: claim.log });
    expect(checkTrustClaim({ agentauth_trust: claim }, 701)).toMatchObject({ ok: false, code: 'TRUST_TOO_LOW', message: expect.stringMatching(/700 is below the 701/) });
    expect(checkTrustClaim({}, 1)).toMatchObject({ ok: false, code: 'TRUST_MISSING' });
    for (const bad of [{ ...claim, score: 1001 }, { ...claim, score: 1.5 }, { ...claim, v: 2 }, { ...claim, log: { ...claim.log, root: 'AB' } }, { ...claim, log: null }, 'x']) {
      expect(checkTrustClaim({ agentauth_trust: bad }, 0)).toMatchObject({ ok: false, code: 'TRUST_MALFORMED' });
    }
  });
});
