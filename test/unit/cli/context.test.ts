// The one context: built from what main.ts hands in, never from the process.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createContext, type ProcessContext } from '../../../src/commands/context.js';
import { resolvePaths, resolveXdgDirs } from '../../../src/core/paths.js';
import { decideColour } from '../../../src/ui/colour.js';

function processContext(env: Record<string, string>, colour: { stdout: boolean; stderr: boolean }): ProcessContext & { err: () => string } {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk) => (text += String(chunk)));
  return {
    argv: [],
    env,
    uid: 1000,
    get stdin(): never {
      throw new Error('stdin is read only when a command asks for it');
    },
    stdout: new PassThrough(),
    stderr,
    now: () => new Date(0),
    colour,
    exitCodeOf: () => 0,
    err: () => text,
  };
}

describe('context', () => {
  it('colour is decided per stream: warnings keep it when only stdout is piped, and stdout renders without it', () => {
    const base = processContext({ HOME: '/home/u' }, { stdout: false, stderr: true });
    const ctx = createContext(base);
    ctx.warn('careful');
    expect(base.err()).toBe('\u001b[33mwarning:\u001b[39m careful\n');
    expect(ctx.style.red('x')).toBe('x');
    expect(ctx.stderrStyle.red('x')).toBe('\u001b[31mx\u001b[39m');
  });

  it('decides colour from the stream, NO_COLOR, FORCE_COLOR=0, TERM=dumb and --no-color', () => {
    const tty = { isTTY: true };
    expect(decideColour(tty, {}, false)).toBe(true);
    expect(decideColour({ isTTY: false }, { FORCE_COLOR: '1' }, false)).toBe(false);
    for (const env of [{ NO_COLOR: '1' }, { FORCE_COLOR: '0' }, { TERM: 'dumb' }]) expect(decideColour(tty, env, false), JSON.stringify(env)).toBe(false);
    expect(decideColour(tty, {}, true)).toBe(false);
  });

  it('finds its files from the injected env alone (XDG variables, HOME, AGENTAUTH_HOME)', () => {
    expect(resolveXdgDirs({ HOME: '/h', XDG_STATE_HOME: '/s', XDG_CONFIG_HOME: 'relative' })).toEqual({ config: '/h/.config', data: '/h/.local/share', state: '/s', cache: '/h/.cache' });
    const ctx = createContext(processContext({ HOME: '/h', XDG_DATA_HOME: '/d' }, { stdout: false, stderr: false }));
    expect(ctx.paths).toMatchObject({ config: '/h/.config/agentauth/config.json', keystore: '/d/agentauth/keystore.jwe', auditLog: '/h/.local/state/agentauth/audit.jsonl' });
    expect(resolvePaths({ AGENTAUTH_HOME: '/a' }, 1000).vault).toBe('/a/vault.json');
    expect(() => resolvePaths({}, 1000)).toThrow(expect.objectContaining({ code: 'NO_HOME', kind: 'usage' }));
  });
});
