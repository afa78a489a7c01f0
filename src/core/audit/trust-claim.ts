// The `agentauth_trust` claim (docs/tokens.md) and the check a verifier makes
// of it. Kept apart from the score's computation (trust.ts) with no imports:
// the verifier library pulls in this file only.

export const TRUST_MAX = 1000;

/** What `token mint --with-trust` puts in the token (docs/tokens.md, "agentauth_trust"). */
export interface TrustClaim {
  v: 1;
  score: number;
  /** The checkpoint the score was computed at: every event up to it, in every segment up to its own, and none after. */
  log: { origin: string; segment: number; size: number; root: string };
  components: { age: number; activity: number; denials: number; refusals: number; violations: number; integrity: number };
}

export type TrustCheck =
  | { ok: true; score: number; log: TrustClaim['log'] }
  | { ok: false; code: 'TRUST_MISSING' | 'TRUST_MALFORMED' | 'TRUST_TOO_LOW'; message: string };

/**
 * For verifiers (the library's `minTrust`): the token's `agentauth_trust`
 * claim must be present, well formed, and at least `minTrust`. Call it on
 * claims whose signature has been verified. It does not recompute the score:
 * a verifier holding the log does that with `agentauth audit trust AGENT --at ROOT`.
 */
export function checkTrustClaim(claims: Record<string, unknown>, minTrust: number): TrustCheck {
  const claim = claims['agentauth_trust'];
  if (claim === undefined) return { ok: false, code: 'TRUST_MISSING', message: 'the token carries no agentauth_trust claim (mint it with --with-trust)' };
  if (!isTrustClaim(claim)) return { ok: false, code: 'TRUST_MALFORMED', message: 'the agentauth_trust claim is not {v: 1, score, log: {origin, segment, size, root}}' };
  if (claim.score < minTrust) return { ok: false, code: 'TRUST_TOO_LOW', message: `the agent's trust score ${claim.score} is below the ${minTrust} required` };
  return { ok: true, score: claim.score, log: claim.log };
}

function isTrustClaim(value: unknown): value is TrustClaim {
  if (!value || typeof value !== 'object') return false;
  const claim = value as Record<string, unknown>;
  const log = claim['log'] as Record<string, unknown> | undefined;
  const integer = (n: unknown, min = 0) => typeof n === 'number' && Number.isSafeInteger(n) && n >= min;
  return (
    claim['v'] === 1 &&
    integer(claim['score']) &&
    (claim['score'] as number) <= TRUST_MAX &&
    !!log &&
    typeof log === 'object' &&
    typeof log['origin'] === 'string' &&
    integer(log['segment'], 1) &&
    integer(log['size'], 1) &&
    typeof log['root'] === 'string' &&
    /^[0-9a-f]{64}$/.test(log['root'])
  );
}
