import { describe, expect, it } from 'vitest';
import { startSession } from '../../../src/core/gateway/session.js';
import { createAuditBatcher } from '../../../src/core/gateway/audit-batch.js';

describe('session', () => {
  it('accepts its chain, verifies others, refuses expired or foreign-agent tokens', async () => {
    let clock = 1000;
    let n = 0;
    const session = await startSession({
      agent: 'coder',
      mint: async () => ({ token: `chain-${++n}`, jti: `j${n}`, iat: clock, exp: clock + 600 }),
      verify: async (token) => {
        if (token === 'other-ok') return { jti: 'o1', sub: 'agent:coder', exp: 1100 };
        if (token === 'other-agent') return { jti: 'o2', sub: 'agent:evil', exp: 5000 };
        throw new Error('bad');
      },
      onRenew: () => {},
      onError: () => {},
      nowSeconds: () => clock,
    });
    expect(session.authenticate('chain-1')).toBe(session.principal);
    expect(session.principal.jti).toBe('j1');
    expect(await session.authenticate('other-ok')).toEqual({ jti: 'o1' });
    expect(await session.authenticate('other-agent')).toBeNull();
    expect(await session.authenticate('garbage')).toBeNull();
    clock = 1200;
    // Cached verification still honours expiry.
    expect(await session.authenticate('other-ok')).toBeNull();
    session.stop();
  });
});

describe('audit batcher', () => {
  it('groups events queued together into one append, and writes the rest on close', async () => {
    const batches: { kinds: string[]; final: boolean }[] = [];
    // The first append blocks until released, so "in flight" does not depend on timers.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = createAuditBatcher(async (events, final) => {
      batches.push({ kinds: events.map((e) => e.kind), final });
      if (batches.length === 1) await gate;
    }, () => {}, 300);
    for (let i = 0; i < 50; i += 1) batcher.push({ kind: `e${i}`, actor: {}, data: {} });
    // Still inside the group-commit window: shares the first append.
    await new Promise((resolve) => setTimeout(resolve, 5));
    batcher.push({ kind: 'late', actor: {}, data: {} });
    expect(batches).toHaveLength(0);
    while (batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    // While that append is in flight: the next one.
    batcher.push({ kind: 'later', actor: {}, data: {} });
    expect(batcher.pending()).toBe(1);
    release();
    await batcher.close([{ kind: 'run.end', actor: {}, data: {} }]);
    expect(batches[0]!.kinds).toHaveLength(51);
    expect(batches.flatMap((b) => b.kinds)).toEqual([...Array.from({ length: 50 }, (_, i) => `e${i}`), 'late', 'later', 'run.end']);
    expect(batches.length).toBeLessThanOrEqual(3);
    expect(batches.at(-1)!.final).toBe(true);
    batcher.push({ kind: 'after-close', actor: {}, data: {} });
    expect(batcher.pending()).toBe(0);
  });
});
