// Secret values at rest: concurrent first `secret add`s share one vault key,
// values are stored byte for byte or refused clearly, and a secret's --env
// cannot name a variable that changes how the child's programs start.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome } from '../helpers/cli.js';
import { makeScenario, mustRun, type Scenario } from '../fixtures/gateway/setup.js';

let s: Scenario;
beforeAll(async () => {
  s = await makeScenario();
});
afterAll(async () => {
  await s?.cleanup();
});

const files = (dir: string) => ['config.json', 'vault.json', 'keystore.jwe'].map((name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name)).toString('base64') : null));

describe('concurrent first secret add', () => {
  it('6 parallel adds of different secrets on a fresh home: every value decrypts afterwards', async () => {
    const home = await makeInitialisedHome();
    try {
      const names = Array.from({ length: 6 }, (_, i) => `s${i}`);
      const results = await Promise.all(
        names.map((name) => home.run(['secret', 'add', name, '--host', 'api.example.com', '--header', `X-${name}`, '--env', `${name.toUpperCase()}_KEY`], { input: `value-of-${name}-0123456789\n` })),
      );
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      await mustRun({ ...home } as never, ['agent', 'add', 'all', '--scope', 'x:y', ...names.flatMap((name) => ['--secret', name])]);
      // run decrypts every granted value before it starts the child: one lost key is a 125.
      const run = await home.run(['run', '--agent', 'all', '--', 'sh', '-c', 'echo "$S0_KEY $S5_KEY"']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^aa-ph-s0-\S+ aa-ph-s5-\S+\n$/);
    } finally {
      home.cleanup();
    }
  }, 120_000);
});

describe('secret values', () => {
  it('a UTF-8 value with non-ASCII characters reaches the upstream byte for byte', async () => {
    const value = 'pässwörd-ünïcode-✓-0123';
    await mustRun(s.home, ['secret', 'add', 'uni', '--host', s.upstream.authority, '--header', 'X-Extra', '--env', 'UNI_KEY'], { input: Buffer.from(`${value}\n`, 'utf8') });
    await mustRun(s.home, ['grant', 'coder', 'uni']);
    const result = await s.runShell(`curl -sS -o /dev/null "https://${s.upstream.authority}/echo" -H "Authorization: Bearer $UP_KEY" -H "X-Extra: $UNI_KEY"`);
    expect(result.code, result.stderr).toBe(0);
    const seen = s.upstream.seen.at(-1)!;
    expect(Buffer.from(String(seen.headers['x-extra']), 'latin1')).toEqual(Buffer.from(value, 'utf8'));
  });

  it('a value that is not UTF-8 is refused clearly (stdin and --from-file), and nothing is written', async () => {
    const bytes = Buffer.concat([Buffer.from('latin1-caf'), Buffer.from([0xe9]), Buffer.from('-0123456789')]);
    const file = join(s.home.dir, 'latin1.bin');
    writeFileSync(file, bytes, { mode: 0o600 });
    const before = files(s.home.home);
    for (const [args, input] of [
      [['secret', 'add', 'bin', '--host', 'api.example.com', '--header', 'X-Key'], bytes],
      [['secret', 'add', 'bin', '--host', 'api.example.com', '--header', 'X-Key', '--from-file', file], undefined],
      [['secret', 'rotate', 'up', '--from-file', file], undefined],
    ] as const) {
      const result = await s.home.run([...args], input ? { input } : {});
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/not valid UTF-8/);
      expect(result.stderr).toContain('offset 10');
      expect(result.stderr).not.toContain('latin1-caf');
      expect(result.stdout).toBe('');
    }
    expect(files(s.home.home)).toEqual(before);
  });

  it('a value with a leading or trailing space, which no header carries unchanged, is refused', async () => {
    const before = files(s.home.home);
    for (const value of [' leading-space-0123', 'trailing-space-0123 ', 'tab\tinside-0123']) {
      const result = await s.home.run(['secret', 'add', 'sp', '--host', 'api.example.com', '--header', 'X-Key'], { input: `${value}\n` });
      expect(result.code, value).toBe(2);
      expect(result.stderr).not.toContain(value.trim());
    }
    expect(files(s.home.home)).toEqual(before);
  });
});

describe('--env names', () => {
  it('a variable that changes how programs start, load code or run commands is refused with the rule', async () => {
    const before = files(s.home.home);
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'NODE_OPTIONS', 'BASH_ENV', 'ENV', 'PYTHONPATH', 'PYTHONSTARTUP', 'PERL5OPT', 'RUBYOPT', 'GIT_CONFIG_COUNT', 'GIT_SSH_COMMAND', 'SHELL', 'IFS', 'PROMPT_COMMAND', 'JAVA_TOOL_OPTIONS']) {
      for (const flag of ['--env', '--base-url-env']) {
        const result = await s.home.run(['secret', 'add', 'envy', '--host', 'api.example.com', '--header', 'X-Key', flag, name], { input: 'value-0123456789\n' });
        expect(result.code, `${flag} ${name}`).toBe(2);
        expect(result.stderr).toContain(name);
        expect(result.stderr).toMatch(/changes how|agentauth run sets/);
      }
    }
    expect(files(s.home.home)).toEqual(before);
  });
});
