import { describe, expect, it } from 'vitest';
import { startSession } from '../../../src/core/gateway/session.js';

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
