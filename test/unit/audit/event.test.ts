import realCanonicalize from 'canonicalize';
import { describe, expect, it, vi } from 'vitest';
import { serializeEvent, type AuditEvent } from '../../../src/core/audit/event.js';

// Count the calls into the package, to see which path a line took.
const calls = vi.hoisted(() => ({ count: 0 }));
vi.mock('canonicalize', async (importOriginal) => {
  const actual = (await importOriginal<{ default: (value: unknown) => string | undefined }>()).default;
  return {
    default: (value: unknown) => {
      calls.count += 1;
      return actual(value);
    },
  };
});

const event = (actor: Record<string, unknown>, data: Record<string, unknown>): AuditEvent => ({ actor, data, kind: 'test.event', log: 'agentauth.local/x', prev: null, seq: 7, ts: '2026-11-22T12:00:00.000Z', v: 1 });

// A small seeded generator, so that a failure can be replayed.
function makeRandom(seed: number) {
  let state = seed >>> 0;
  const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const pieces = ['a', 'b', 'Z', '_', '10', '9', '0', '1', 'é', '€', '😀', '\u0000', '\u001f', '"', '\\', '\ud800', '\udfff', '\u2028', 'ﬀ', ' '];
  const text = () => Array.from({ length: Math.floor(next() * 5) }, () => pick(pieces)).join('');
  const value = (depth: number): unknown => {
    const kind = depth > 2 ? Math.floor(next() * 4) : Math.floor(next() * 6);
    if (kind === 0) return text();
    if (kind === 1) return pick([0, -0, 1, -1, 42, 2 ** 53 - 1, -(2 ** 53 - 1), 1e15]);
    if (kind === 2) return pick([true, false]);
    if (kind === 3) return null;
    if (kind === 4) return Array.from({ length: Math.floor(next() * 4) }, () => value(depth + 1));
    return object(depth + 1);
  };
  const object = (depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i -= 1) out[text()] = value(depth);
    // Half of the objects are rebuilt in sorted order, so that both paths are exercised.
    if (next() < 0.5) return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return out;
  };
  return { object };
}

describe('audit line serialisation', () => {
  it('is byte-identical to the canonicalize package on random values, on both paths', () => {
    const random = makeRandom(20261122);
    let fast = 0;
    for (let i = 0; i < 5000; i += 1) {
      const value = event(random.object(0), random.object(0));
      let expected: string | undefined;
      try {
        expected = realCanonicalize(value);
      } catch {
        // The package refuses lone surrogates (RFC 8785 wants valid Unicode): so must we, with our own error.
        expect(() => serializeEvent(value)).toThrow(/lone UTF-16 surrogate/);
        continue;
      }
      const before = calls.count;
      const line = serializeEvent(value);
      if (calls.count === before) fast += 1;
      expect(line, JSON.stringify(value)).toBe(expected);
    }
    // Both paths were taken a fair number of times.
    expect(fast).toBeGreaterThan(300);
    expect(fast).toBeLessThan(4000);
  });

  it('takes the fast path for an event built in key order, and the package for any other order', () => {
    const before = calls.count;
    expect(serializeEvent(event({ jti: 'j', sub: 'agent:a' }, { agent: 'a', bytes_in: 0, status: 200 }))).toBe('{"actor":{"jti":"j","sub":"agent:a"},"data":{"agent":"a","bytes_in":0,"status":200},"kind":"test.event","log":"agentauth.local/x","prev":null,"seq":7,"ts":"2026-11-22T12:00:00.000Z","v":1}');
    expect(calls.count).toBe(before);
    // Index-like keys are listed numerically by JavaScript ("9" before "10") but sort as strings in JCS.
    expect(serializeEvent(event({ sub: 'x' }, { 10: 'a', 9: 'b' }))).toContain('"data":{"10":"a","9":"b"}');
    expect(calls.count).toBe(before + 1);
    expect(serializeEvent(event({ sub: 'x', jti: 'j' }, {}))).toContain('"actor":{"jti":"j","sub":"x"}');
    expect(calls.count).toBe(before + 2);
  });

  it('refuses floats, non-JSON values and bad kinds, on either path', () => {
    const bad: [Record<string, unknown>, Record<string, unknown>, RegExp][] = [
      [{ sub: 'x' }, { ms: 1.5 }, /data\.ms is 1\.5; audit events hold integers only/],
      [{ z: 1, a: 1 }, { ms: Number.NaN }, /data\.ms is NaN/],
      [{ sub: 'x' }, { list: [1, undefined] }, /data\.list\[1\] is a undefined/],
      [{ sub: 'x' }, { when: new Date(0) }, /data\.when is a object/],
      [{ sub: 'x' }, { big: 2n ** 64n }, /data\.big is a bigint/],
      [{ sub: () => 1 }, {}, /actor\.sub is a function/],
      [{ sub: 'x' }, { path: '/a\ud800' }, /data\.path holds a lone UTF-16 surrogate/],
      [{ 'k\udc00': 'x' }, {}, /actor key holds a lone UTF-16 surrogate/],
    ];
    for (const [actor, data, message] of bad) expect(() => serializeEvent(event(actor, data))).toThrow(message);
    expect(() => serializeEvent({ ...event({}, {}), kind: 'Bad Kind' })).toThrow(/not a dotted lower-case name/);
  });
});
