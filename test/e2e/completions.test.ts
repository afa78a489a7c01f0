// Completions are generated from the command tree; a stale file fails here.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, REPO_ROOT, type TempHome } from '../helpers/cli.js';
import { skipWithout } from '../helpers/prerequisites.js';

const FILES = { bash: 'completions/agentauth.bash', zsh: 'completions/_agentauth', fish: 'completions/agentauth.fish' } as const;

let t: TempHome;
beforeAll(async () => {
  t = await makeInitialisedHome();
  await t.run(['agent', 'add', 'home-monitor', '--scope', 'a:b']);
  await t.run(['agent', 'add', 'coder', '--scope', 'a:b']);
});
afterAll(() => t.cleanup());

/** What bash offers for `line` (a trailing space: a new, empty word). */
async function completeBash(line: string): Promise<string[]> {
  const script = `source ${join(REPO_ROOT, FILES.bash)}
agentauth() { node ${join(REPO_ROOT, 'bin/agentauth.js')} "$@"; }
COMP_LINE='${line}'; read -ra COMP_WORDS <<< "$COMP_LINE"; [[ "$COMP_LINE" == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _agentauth; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await execa('bash', ['-c', script], { env: t.env, extendEnv: false });
  return r.stdout.split('\n').filter(Boolean);
}

describe('shell completions', () => {
  for (const [shell, file] of Object.entries(FILES)) {
    it(`${file} is what \`agentauth completion ${shell}\` prints (run npm run completions if not)`, async () => {
      const r = await t.run(['completion', shell]);
      expect(r.code).toBe(0);
      expect(readFileSync(join(REPO_ROOT, file), 'utf8')).toBe(r.stdout);
    });
  }

  it('bash completes commands, flags and agent names', async () => {
    const complete = completeBash;
    expect(await complete('agentauth to')).toEqual(['token']);
    expect(await complete('agentauth token ')).toEqual(expect.arrayContaining(['mint', 'verify', 'inspect']));
    expect(await complete('agentauth token mint --a')).toEqual(['--aud']);
    expect((await complete('agentauth token mint ')).sort()).toEqual(expect.arrayContaining(['coder', 'home-monitor']));
    expect(await complete('agentauth agent show ho')).toEqual(['home-monitor']);
    expect(await complete('agentauth completion z')).toEqual(['zsh']);
  });

  it('bash completes the value of a flag: agent names after --agent, choices after --to, never flags', async () => {
    const complete = async (line: string) => (await completeBash(line)).sort();
    expect(await complete('agentauth run --agent ')).toEqual(['coder', 'home-monitor']);
    expect(await complete('agentauth audit replay --agent ho')).toEqual(['home-monitor']);
    expect(await complete('agentauth migrate --to ')).toEqual(['file', 'keychain']);
    expect(await complete('agentauth token mint coder --aud ')).toEqual([]);
    expect(await complete('agentauth agent rm ho')).toEqual(['home-monitor']);
  });

  it('fish completes agent names after --agent', async (context) => {
    const probe = await execa('fish', ['--version'], { reject: false });
    skipWithout(context, probe.exitCode === 0 ? null : 'fish (apt-get install fish)');
    const script = `function agentauth; node ${join(REPO_ROOT, 'bin/agentauth.js')} $argv; end; source ${join(REPO_ROOT, FILES.fish)}; complete -C 'agentauth run --agent '`;
    const r = await execa('fish', ['--no-config', '-c', script], { env: t.env, extendEnv: false });
    expect(r.stdout.split('\n').map((line) => line.split('\t')[0]).filter(Boolean).sort()).toEqual(['coder', 'home-monitor']);
  });

  for (const [shell, file, args] of [
    ['zsh', FILES.zsh, ['-n']],
    ['fish', FILES.fish, ['--no-execute']],
  ] as const) {
    it(`${file} parses in ${shell}`, async (context) => {
      const probe = await execa(shell, ['--version'], { reject: false });
      skipWithout(context, probe.exitCode === 0 ? null : `${shell} (apt-get install ${shell}), for the syntax check of ${file}`);
      const r = await execa(shell, [...args, join(REPO_ROOT, file)], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
    });
  }

  it('an unknown shell is a usage error', async () => {
    const r = await t.run(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/use bash, zsh or fish/);
  });
});
