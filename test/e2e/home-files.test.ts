// agentauth's own files against a same-user or other-user attacker: the home
// folder, symbolic links planted where a private file goes, a passphrase file
// others can read, and a config.json with a wrong type in it. Every refusal
// says what and how to fix it, and leaves every file as it was.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, makeTempHome, PASSPHRASE, type TempHome } from '../helpers/cli.js';

let home: TempHome;
beforeAll(async () => {
  home = await makeInitialisedHome();
  expect((await home.run(['agent', 'add', 'bot', '--scope', 'repo:read'])).code).toBe(0);
});
afterAll(() => home?.cleanup());

/** Every file under the home, with its bytes, so a refusal can be shown to change nothing. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      const st = lstatSync(path);
      if (st.isDirectory()) walk(path);
      else out[path] = st.isSymbolicLink() ? `-> link` : readFileSync(path).toString('base64');
    }
  };
  walk(dir);
  return out;
}

describe('the home folder', () => {
  it('a world- or group-writable AGENTAUTH_HOME is refused with the chmod that fixes it (exit 4), and nothing is written', async () => {
    for (const mode of [0o777, 0o770]) {
      chmodSync(home.home, mode);
      const before = snapshot(home.home);
      try {
        for (const args of [['agent', 'list'], ['token', 'mint', 'bot', '--aud', 'api.example.com'], ['agent', 'add', 'other', '--scope', 'x:y']]) {
          const result = await home.run(args);
          expect(result.code, `${mode.toString(8)} ${args.join(' ')}`).toBe(4);
          expect(result.stdout).toBe('');
          expect(result.stderr).toContain(home.home);
          expect(result.stderr).toContain(`chmod 700 '${home.home}'`);
        }
        expect(snapshot(home.home)).toEqual(before);
      } finally {
        chmodSync(home.home, 0o700);
      }
    }
    expect((await home.run(['agent', 'list'])).code).toBe(0);
  });

  it('a home owned by another user is refused with the chown that fixes it (exit 4)', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip(); // only root can hand a folder to another user
    chownSync(home.home, 65534, 65534);
    try {
      const result = await home.run(['agent', 'list']);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain('another user');
      expect(result.stderr).toContain(`chown`);
    } finally {
      chownSync(home.home, 0, 0);
    }
  });

  it('init refuses to fill a world-writable folder', async () => {
    const temp = makeTempHome();
    try {
      mkdirSync(temp.home, { mode: 0o777 });
      chmodSync(temp.home, 0o777);
      const result = await temp.run(['init', '--backend', 'file', '--issuer', 'https://i.test', '--passphrase-file', temp.passphraseFile]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(`chmod 700 '${temp.home}'`);
      expect(readdirSync(temp.home)).toEqual([]);
    } finally {
      temp.cleanup();
    }
  });
});

describe('symbolic links planted where a private file goes', () => {
  const cases: [string, string[]][] = [
    ['audit.jsonl', ['agent', 'add', 'other', '--scope', 'repo:read']],
    ['audit.jsonl.state', ['agent', 'add', 'other', '--scope', 'repo:read']],
    ['audit.jsonl.lock', ['agent', 'add', 'other', '--scope', 'repo:read']],
    ['audit.jsonl', ['audit', 'checkpoint']],
    ['config.json', ['agent', 'list']],
    ['keystore.jwe', ['token', 'mint', 'bot', '--aud', 'api.example.com']],
    ['vault.json', ['secret', 'add', 'sym', '--host', 'api.example.com', '--header', 'X-Key']],
  ];
  for (const [name, args] of cases) {
    it(`${name} (${args[0]} ${args[1]}): refused clearly, and the file it points to is not written through`, async () => {
      const target = join(home.home, name);
      const victim = join(home.dir, 'victim.txt');
      writeFileSync(victim, 'do not touch\n', { mode: 0o600 });
      const saved = join(home.dir, 'saved');
      const existed = existsSync(target);
      if (existed) renameSync(target, saved);
      symlinkSync(victim, target);
      const before = snapshot(home.home);
      try {
        const result = await home.run(args, { input: 'value-0123456789\n' });
        expect(result.code, result.stderr).toBe(4);
        expect(result.stderr).toMatch(/symbolic link/);
        expect(result.stderr).toContain(target);
        expect(result.stdout).toBe('');
        expect(readFileSync(victim, 'utf8')).toBe('do not touch\n');
        expect(lstatSync(target).isSymbolicLink()).toBe(true);
        // Refused before acting: not one of agentauth's files changed either.
        expect(snapshot(home.home)).toEqual(before);
      } finally {
        rmSync(target);
        if (existed) renameSync(saved, target);
      }
    });
  }
});

describe('the passphrase file', () => {
  it('one that others can read is refused like the keystore, naming the chmod 600 (exit 4), and nothing is written', async () => {
    const temp = makeTempHome();
    try {
      chmodSync(temp.passphraseFile, 0o644);
      const result = await temp.run(['init', '--backend', 'file', '--issuer', 'https://i.test', '--passphrase-file', temp.passphraseFile]);
      expect(result.code).toBe(4);
      expect(result.stderr).toContain(`chmod 600 '${temp.passphraseFile}'`);
      expect(result.stderr).not.toContain(PASSPHRASE);
      expect(existsSync(join(temp.home, 'config.json'))).toBe(false);
      expect(existsSync(join(temp.home, 'keystore.jwe'))).toBe(false);
      // The same through the environment variable, on an initialised home.
      const env = await home.run(['token', 'mint', 'bot', '--aud', 'api.example.com'], { env: { AGENTAUTH_PASSPHRASE_FILE: temp.passphraseFile } });
      expect(env.code).toBe(4);
      expect(env.stdout).toBe('');
      expect(env.stderr).toContain(`chmod 600 '${temp.passphraseFile}'`);
      expect(statSync(temp.passphraseFile).mode & 0o777).toBe(0o644);
    } finally {
      temp.cleanup();
    }
  });
});

describe('config.json with a wrong type in a field', () => {
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    ['scopes not a list', (c) => (c['agents']['bot']['scopes'] = 'repo:read'), 'agents.bot.scopes'],
    ['maxTtl a string', (c) => (c['agents']['bot']['maxTtl'] = '1h'), 'agents.bot.maxTtl'],
    ['grants null', (c) => (c['agents']['bot']['grants'] = null), 'agents.bot.grants'],
    ['agents a list', (c) => (c['agents'] = [1]), 'agents'],
    ['a key without a kid', (c) => (c['keys'][0]['kid'] = 1), 'keys[0].kid'],
    ['vkey a number', (c) => (c['log']['vkey'] = 5), 'log.vkey'],
    ['secrets a list', (c) => (c['secrets'] = []), 'secrets'],
  ];
  for (const [what, change, field] of cases) {
    it(`${what}: a clear error naming ${field} and the file (exit 4), nothing written`, async () => {
      const file = join(home.home, 'config.json');
      const original = readFileSync(file, 'utf8');
      const config = JSON.parse(original) as Record<string, any>;
      change(config);
      writeFileSync(file, JSON.stringify(config));
      try {
        const before = snapshot(home.home);
        for (const args of [['agent', 'list'], ['token', 'mint', 'bot', '--aud', 'api.example.com'], ['agent', 'show', 'bot']]) {
          const result = await home.run(args);
          expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(4);
          expect(result.stderr).toContain(file);
          expect(result.stderr).toContain(`"${field}"`);
          expect(result.stdout).toBe('');
        }
        expect(snapshot(home.home)).toEqual(before);
      } finally {
        writeFileSync(file, original, { mode: 0o600 });
      }
    });
  }
});
