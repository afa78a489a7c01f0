// The fast path of `token mint` (src/fast-mint.ts) reads argv by hand. It
// must read it exactly as the command tree does, or give up: compared here
// with the real commander program on a list of spellings.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../../src/cli.js';
import { parseFastMint } from '../../../src/fast-mint.js';

/** What commander hands the mint action for these words, or null when it refuses them. */
function commanderReads(words: string[]): { agent: string; opts: Record<string, unknown> } | null {
  const program = createProgram();
  const mint = program.commands.find((c) => c.name() === 'token')!.commands.find((c) => c.name() === 'mint')! as Command;
  let seen: { agent: string; opts: Record<string, unknown> } | null = null;
  mint.action((agent: string, opts: Record<string, unknown>) => {
    seen = { agent, opts };
  });
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) command.exitOverride();
  try {
    program.parse(['token', 'mint', ...words], { from: 'user' });
  } catch {
    return null;
  }
  return seen;
}

const SPELLINGS: string[][] = [
  ['bot', '--aud', 'pack.lan'],
  ['--aud', 'pack.lan', 'bot'],
  ['bot', '--aud=pack.lan', '--json'],
  ['bot', '--aud', 'pack.lan', '--scope', 'a:b', 'c:d'],
  ['bot', '--scope', 'a:b', '--scope', 'c:d', '--aud', 'x'],
  ['bot', '--scope=a:b', '--aud', 'x'],
  ['bot', '--aud', 'x', '--scope=a:b', 'c:d'],
  ['bot', '--aud', '-dashed'],
  ['bot', '--aud', 'x', '--ttl', '10m', '--on-behalf-of', 'alice', '--dpop-jkt', 'A'.repeat(43)],
  ['bot', '--aud', 'x', '--passphrase-file', '/dev/null', '--no-color'],
  ['bot', '--aud', 'x', '--aud', 'y'],
  // Given up on (commander's answer comes from the full command):
  ['bot'],
  ['--aud', 'x'],
  ['bot', 'other', '--aud', 'x'],
  ['--scope', 'a', 'bot', '--aud', 'x'],
  ['bot', '--aud'],
  ['bot', '--aud', 'x', '--help'],
  ['bot', '--aud', 'x', '--direct'],
  ['bot', '--aud', 'x', '--dpop-key', 'k.jwk'],
  ['bot', '--aud', 'x', '--frobnicate'],
  ['bot', '--aud', 'x', '--'],
  ['bot', '--aud', 'x', '--json=yes'],
];

describe('the fast path of token mint reads argv as commander does, or not at all', () => {
  for (const words of SPELLINGS) {
    it(words.join(' '), () => {
      const fast = parseFastMint(words);
      if (fast === null) return;
      const full = commanderReads(words);
      expect(full, 'the fast path accepted what commander refuses').not.toBeNull();
      expect(fast.call.agent).toBe(full!.agent);
      expect(fast.call.aud).toBe(full!.opts['aud']);
      expect(fast.call.scopes).toEqual(full!.opts['scope']);
      expect(fast.call.ttl).toBe(full!.opts['ttl']);
      expect(fast.call.onBehalfOf).toBe(full!.opts['onBehalfOf']);
      expect(fast.call.dpopJkt).toBe(full!.opts['dpopJkt']);
      expect(fast.json).toBe(full!.opts['json'] === true);
    });
  }

  it('accepts the common spellings', () => {
    expect(parseFastMint(['bot', '--aud', 'pack.lan', '--scope', 'a:b', 'c:d', '--json'])).toEqual({ call: { agent: 'bot', aud: 'pack.lan', scopes: ['a:b', 'c:d'] }, json: true });
    expect(parseFastMint(['bot', '--aud', 'x', '--help'])).toBeNull();
  });
});
