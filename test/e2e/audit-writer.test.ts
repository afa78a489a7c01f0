// The audit writer against a hostile child: the writer never signs a log it
// cannot vouch for (audit-log.md, "Writers"), whatever the child did to the
// log or to the `.state` cache while it ran.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeScenario, mustRun, readAuditLines, REAL_KEY, type Scenario } from '../fixtures/gateway/setup.js';

const REWRITE = join(REPO_ROOT, 'test/fixtures/audit/rewrite-log.mjs');

let s: Scenario;
let log: string;
beforeAll(async () => {
  s = await makeScenario();
  log = join(s.home.home, 'audit.jsonl');
});
afterAll(async () => {
  await s?.cleanup();
});

// The sandbox (docs/sandbox.md) hides the log from a child altogether; these
// tests model what it cannot stop: a same-user process outside it (a run
// with --no-sandbox, or anything else the user runs), so they run unsandboxed.
const UNSANDBOXED = ['--no-sandbox'];

/** The child: two requests through the gateway, then the rewrite that removes their events. */
function rewritingChild(marker: string, exit = 0): string {
  return [
    `curl -sS -o /dev/null "https://${s.upstream.authority}/${marker}/a" -H "Authorization: Bearer $UP_KEY"`,
    `curl -sS -o /dev/null "https://${s.upstream.authority}/${marker}/b" -H "Authorization: Bearer $UP_KEY"`,
    `"${process.execPath}" "${REWRITE}" "${log}" "/${marker}/" 2`,
    `exit ${exit}`,
  ].join(' && ');
}

describe('a child that rewrites the audit log during a run', () => {
  it('gets no checkpoint over the rewritten log: run exits 1, says why, and verify --strict --trusted fails', async () => {
    const trusted = join(s.home.dir, 'trusted.note');
    await mustRun(s.home, ['audit', 'checkpoint', '--out', trusted]);
    const result = await s.runShell(rewritingChild('rewrite-1'), UNSANDBOXED);
    expect(result.stdout).toContain('rewrote the log: dropped 2 event(s)');
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/refused to sign/);
    expect(result.stderr).toMatch(/rewritten/);
    expect(result.stderr).not.toContain(REAL_KEY);
    // The two requests are gone from the file, and no checkpoint covers what is left.
    const lines = readAuditLines(s.home);
    expect(lines.filter((line) => String((line['data'] as Record<string, unknown> | undefined)?.['path']).includes('/rewrite-1/'))).toEqual([]);
    expect(lines.at(-1)?.['kind']).not.toBe('checkpoint');
    const strict = await s.home.run(['audit', 'verify', '--strict', '--trusted', trusted, '--json']);
    expect(strict.code, strict.stdout).toBe(1);
    expect(JSON.parse(strict.stdout)).toMatchObject({ verified: true, ok: false, trusted: { result: 'extends' } });
    expect(JSON.parse(strict.stdout).uncovered).toBeGreaterThan(0);
  });

  it('stays uncovered: a later run or audit checkpoint refuses too, and run keeps its child’s non-zero exit code', async () => {
    const again = await s.runShell('exit 7', UNSANDBOXED);
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(/refused to sign/);
    const checkpoint = await s.home.run(['audit', 'checkpoint']);
    expect(checkpoint.code).toBe(1);
    expect(checkpoint.stderr).toMatch(/refused to sign/);
    expect(readAuditLines(s.home).at(-1)?.['kind']).not.toBe('checkpoint');
    expect((await s.home.run(['audit', 'verify', '--strict'])).code).toBe(1);
  });
});

describe('the .state cache', () => {
  it('a hash edited in .state does not make the next checkpoint sign a wrong root', async () => {
    const s2 = await makeScenario();
    try {
      const file = join(s2.home.home, 'audit.jsonl');
      await mustRun(s2.home, ['agent', 'add', 'other', '--scope', 'demo:read']);
      const stateFile = `${file}.state`;
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
      const frontier = state['frontier'] as string[] | undefined;
      // Whatever the cache holds as hashes, flip one.
      const key = frontier && frontier.length > 0 ? 'frontier' : 'lastLeaf';
      if (key === 'frontier') frontier![0] = `${frontier![0]!.slice(0, -1)}${frontier![0]!.endsWith('0') ? '1' : '0'}`;
      writeFileSync(stateFile, JSON.stringify(state));
      await mustRun(s2.home, ['audit', 'checkpoint']);
      const verify = await s2.home.run(['audit', 'verify', '--strict']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    } finally {
      await s2.cleanup();
    }
  });
});
