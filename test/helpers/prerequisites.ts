// Some end-to-end tests drive tools a developer's machine may lack (tmux,
// zsh, fish, Python requests, a Node 24 binary). Locally they are skipped
// with the reason printed. .ci/run installs every one of them and sets
// AGENTAUTH_TEST_STRICT=1: there a missing tool fails instead, so a broken
// CI image cannot pass by quietly testing less.
export const STRICT = process.env['AGENTAUTH_TEST_STRICT'] === '1';

/** Inside a test: skip (or, under CI, fail) when `missing` names something absent. */
export function skipWithout(context: { skip(): void }, missing: string | null): void {
  if (missing === null) return;
  if (STRICT) throw new Error(`required by CI but missing: ${missing}`);
  console.warn(`skipped: ${missing}`);
  context.skip();
}

/** At module level, for a whole `describe.skipIf`: true when the suite must be skipped. */
export function skipSuiteWithout(suite: string, missing: string | null): boolean {
  if (missing === null) return false;
  if (STRICT) throw new Error(`${suite}: required by CI but missing: ${missing}`);
  console.warn(`[${suite} skipped] ${missing}`);
  return true;
}
