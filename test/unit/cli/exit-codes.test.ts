// Every error code's exit status, against the table in README.md ("Exit
// codes"), read from the README itself so that the two cannot drift apart.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentAuthError, ERROR_CODES, kindOf, type ErrorCode, type ErrorKind } from '../../../src/core/errors.js';
import { EXIT_CODES, exitCodeOf } from '../../../src/main.js';
import { REPO_ROOT } from '../../helpers/cli.js';

/** The README's rows: status → meaning; `125/126/127 | a / b / c` gives three rows. */
function readReadmeTable(): Map<number, string> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Exit codes'));
  const rows = new Map<number, string>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = /^\|\s*([\d/]+)\s*\|\s*(.+?)\s*\|$/.exec(line);
    if (!cells) continue;
    const codes = cells[1]!.split('/').map(Number);
    // "could not start the child (…) / not executable / not found; otherwise …"
    const meanings = codes.length > 1 ? cells[2]!.split(';')[0]!.split(' / ') : [cells[2]!];
    expect(meanings, line).toHaveLength(codes.length);
    codes.forEach((code, i) => rows.set(code, meanings[i]!));
  }
  return rows;
}

/** How each kind is worded in the README's table. */
const MEANING: Record<'ok' | ErrorKind, RegExp> = {
  ok: /^ok$/,
  checkFailed: /^a check failed/,
  usage: /^usage error/,
  notFound: /^not found \/ not initialised/,
  keystore: /^keystore or vault unavailable/,
  policy: /^refused by policy/,
  internal: /^internal error/,
  childStart: /could not start the child/,
  childNotExecutable: /^not executable$/,
  childNotFound: /^not found$/,
};

const table = readReadmeTable();
const allCodes = (Object.values(ERROR_CODES) as readonly (readonly ErrorCode[])[]).flat();

describe('exit codes', () => {
  it('main.ts holds the README table, row for row', () => {
    expect(table.size).toBe(Object.keys(MEANING).length);
    for (const [kind, status] of Object.entries(EXIT_CODES) as ['ok' | ErrorKind, number][]) {
      expect(table.get(status), `${kind} → ${status}`).toMatch(MEANING[kind]);
    }
  });

  it('every error code exits with the status the README gives its kind', () => {
    expect(allCodes.length).toBeGreaterThan(100);
    for (const code of allCodes) {
      const status = exitCodeOf(new AgentAuthError(code, 'x'));
      expect(table.get(status), `${code} (${kindOf(code)}) → ${status}`).toMatch(MEANING[kindOf(code)]);
    }
  });

  it('each code has one kind, and every listed code is thrown somewhere in src', () => {
    expect(new Set(allCodes).size).toBe(allCodes.length);
    // The list itself does not count as a use.
    const sources = readSources(join(REPO_ROOT, 'src')).map((text) => text.replace(/export const ERROR_CODES = \{[\s\S]*?\} as const/, ''));
    const unused = allCodes.filter((code) => !sources.some((text) => text.includes(`'${code}'`)));
    expect(unused).toEqual([]);
  });
});

function readSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? readSources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [readFileSync(join(dir, entry.name), 'utf8')] : [],
  );
}
