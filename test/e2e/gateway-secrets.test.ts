// `secret add|list|rm|rotate` and `grant` through the built CLI.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeInitialisedHome, writeTempFile, type TempHome } from '../helpers/cli.js';

const VALUE = 'sk-test-VALUE-never-printed-42';
let home: TempHome;
beforeAll(async () => {
  home = await makeInitialisedHome();
  expect((await home.run(['agent', 'add', 'coder', '--scope', 'x:y'])).code).toBe(0);
});
afterAll(() => home?.cleanup());

describe('secret store', () => {
  it('adds from stdin; the value is encrypted in a 0600 vault and never printed', async () => {
    const add = await home.run(['secret', 'add', 'gh', '--host', 'api.github.com', '--header', 'Authorization', '--format', 'Bearer {}', '--env', 'GH_TOKEN', '--method', 'GET', '--path', '/repos'], { input: `${VALUE}\n` });
    expect(add.code, add.stderr).toBe(0);
    const vault = join(home.home, 'vault.json');
    expect(statSync(vault).mode & 0o777).toBe(0o600);
    expect(readFileSync(vault, 'utf8')).not.toContain(VALUE);
    const config = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8'));
    expect(config.keystoreEntries).toContain('vault-key');
    expect(JSON.stringify(config)).not.toContain(VALUE);
    const list = await home.run(['secret', 'list', '--json']);
    expect(list.code).toBe(0);
    const doc = JSON.parse(list.stdout);
    expect(doc.schemaVersion).toBe(1);
    expect(doc.secrets[0]).toMatchObject({ name: 'gh', hosts: ['api.github.com'], placements: [{ header: 'Authorization', format: 'Bearer {}' }], methods: ['GET'], path: '/repos', env: ['GH_TOKEN'], grants: [] });
    for (const output of [add.stdout, add.stderr, list.stdout, (await home.run(['secret', 'list'])).stdout]) expect(output).not.toContain(VALUE);
    expect(readFileSync(join(home.home, 'audit.jsonl'), 'utf8')).not.toContain(VALUE);
  });

  it('reads --from-file, refuses duplicates (2), unknown names (3), bad names (2) and a missing value off a terminal', async () => {
    const file = writeTempFile(home.dir, 'value.txt', 'from-file-value-123\n');
    expect((await home.run(['secret', 'add', 'maps', '--host', '*.maps.example.com', '--query', 'key', '--from-file', file])).code).toBe(0);
    expect((await home.run(['secret', 'add', 'maps', '--host', 'x.com', '--query', 'key', '--from-file', file])).code).toBe(2);
    expect((await home.run(['secret', 'rotate', 'nope', '--from-file', file])).code).toBe(3);
    expect((await home.run(['secret', 'add', 'Bad!', '--host', 'x.com', '--header', 'A', '--from-file', file])).code).toBe(2);
    const noValue = await home.run(['secret', 'add', 'empty', '--host', 'x.com', '--header', 'A'], { input: '' });
    expect(noValue.code).toBe(2);
  });

  it('grants narrow (ok) and never widen (exit 5); agent add --secret needs an existing secret', async () => {
    const narrow = await home.run(['grant', 'coder', 'gh', '--path', '/repos/me']);
    expect(narrow.code, narrow.stderr).toBe(0);
    const widenMethod = await home.run(['grant', 'coder', 'gh', '--method', 'DELETE']);
    expect(widenMethod.code).toBe(5);
    expect(widenMethod.stderr).toContain('cannot add DELETE');
    expect((await home.run(['grant', 'coder', 'gh', '--path', '/orgs'])).code).toBe(5);
    expect((await home.run(['grant', 'nobody', 'gh'])).code).toBe(3);
    expect((await home.run(['grant', 'coder', 'nothing'])).code).toBe(3);
    expect((await home.run(['agent', 'add', 'bot', '--scope', 'x:y', '--secret', 'nothing'])).code).toBe(3);
    const list = JSON.parse((await home.run(['secret', 'list', '--json'])).stdout);
    expect(list.secrets.find((s: { name: string }) => s.name === 'gh').grants).toEqual([{ agent: 'coder', paths: ['/repos/me'] }]);
  });

  it('rotate replaces the value; rm removes the value and every grant', async () => {
    const before = JSON.parse(readFileSync(join(home.home, 'vault.json'), 'utf8')).values.gh;
    expect((await home.run(['secret', 'rotate', 'gh'], { input: 'sk-rotated-value-000\n' })).code).toBe(0);
    const after = JSON.parse(readFileSync(join(home.home, 'vault.json'), 'utf8')).values.gh;
    expect(after.ct).not.toBe(before.ct);
    const rm = await home.run(['secret', 'rm', 'gh', '--json']);
    expect(rm.code).toBe(0);
    expect(JSON.parse(rm.stdout)).toMatchObject({ secret: 'gh', revokedFrom: ['coder'] });
    expect(JSON.parse(readFileSync(join(home.home, 'vault.json'), 'utf8')).values.gh).toBeUndefined();
    const agent = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8')).agents.coder;
    expect(agent.grants).toEqual([]);
  });
});

describe('presets, variables per agent, stable placeholders', () => {
  const placeholderOf = async (agent: string) => {
    const r = await home.run(['run', '--agent', agent, '--no-sandbox', '--', 'sh', '-c', 'printf %s "$ANTHROPIC_API_KEY"']);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  it('secret add --help lists every preset; --preset fills the binding and flags beside it replace their part', async () => {
    const help = await home.run(['secret', 'add', '--help']);
    for (const name of ['anthropic', 'openai', 'github', 'gemini', 'huggingface']) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const add = await home.run(['secret', 'add', 'claude', '--preset', 'anthropic', '--json'], { input: `${VALUE}\n` });
    expect(add.code, add.stderr).toBe(0);
    const added = await home.run(['secret', 'add', 'claude-lan', '--preset', 'anthropic', '--host', 'llm.lan:8443', '--json'], { input: `${VALUE}\n` });
    expect(added.code, added.stderr).toBe(0);
    const list = JSON.parse((await home.run(['secret', 'list', '--json'])).stdout) as { secrets: { name: string; hosts: string[]; env: string[] }[] };
    const byName = (name: string) => list.secrets.find((secret) => secret.name === name)!;
    expect(byName('claude')).toMatchObject({ hosts: ['api.anthropic.com'], env: ['ANTHROPIC_API_KEY'] });
    expect(byName('claude-lan')).toMatchObject({ hosts: ['llm.lan:8443'], env: ['ANTHROPIC_API_KEY'] });
    expect(JSON.stringify(byName('claude'))).toContain('x-api-key');
    expect(JSON.stringify(list)).not.toContain(VALUE);
    const unknown = await home.run(['secret', 'add', 'x', '--preset', 'nope'], { input: `${VALUE}\n` });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('anthropic');
  });

  it('two secrets may fill ANTHROPIC_API_KEY for different agents, never for the same one', async () => {
    expect((await home.run(['agent', 'add', 'lan', '--scope', 'x:y', '--secret', 'claude-lan'])).code).toBe(0);
    expect((await home.run(['grant', 'coder', 'claude'])).code).toBe(0);
    const clash = await home.run(['grant', 'coder', 'claude-lan']);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('ANTHROPIC_API_KEY');
    const agent = JSON.parse(readFileSync(join(home.home, 'config.json'), 'utf8')).agents.coder as { grants: { secret: string }[] };
    expect(agent.grants.map((grant) => grant.secret)).toEqual(['claude']);
  });

  it('a placeholder is the same run after run for one agent and secret, differs between agents, and changes on rotate', async () => {
    const first = await placeholderOf('coder');
    expect(first).toMatch(/^aa-ph-claude-[A-Za-z0-9]{22}$/);
    expect(await placeholderOf('coder')).toBe(first);
    expect(await placeholderOf('lan')).not.toBe(first);
    expect((await home.run(['secret', 'rotate', 'claude'], { input: 'sk-rotated-value-111\n' })).code).toBe(0);
    expect(await placeholderOf('coder')).not.toBe(first);
  });
});
