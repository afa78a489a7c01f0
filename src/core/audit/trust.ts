// A trust score anyone holding the log can recompute (docs/trust.md). It is
// a pure function of the events a signed checkpoint covers, in log order:
// integers only, no clock but the events' own timestamps, no state outside
// the log. docs/trust.md gives the formula in words precise enough to
// reimplement it (test/fixtures/audit/trust.py does, in Python, and the tests
// compare the two); the numbers below are the ones that page lists.
import { agentOf, createReplay, type ReplayEvent, type Violation } from './replay.js';
import { TRUST_MAX, type TrustClaim } from './trust-claim.js';

export { checkTrustClaim, type TrustCheck, type TrustClaim } from './trust-claim.js';

export const TRUST_BASE = 500;
/** Points per full day since the agent was added, up to AGE_DAYS_CAP days. */
export const AGE_POINTS_PER_DAY = 2;
export const AGE_DAYS_CAP = 100;
/** Points per successful action, up to ACTIVITY_CAP. */
export const ACTIVITY_CAP = 300;
/** Points taken per gateway denial, by its reason: a placeholder sent where it does not belong weighs most. */
export const DENIAL_WEIGHTS: Readonly<Record<string, number>> = {
  'placeholder-misplaced': 150,
  'host-mismatch': 40,
  'duplicate-host': 40,
  'not-granted': 25,
  'unlisted-host': 25,
  'unknown-secret': 25,
  loop: 10,
};
export const DENIAL_WEIGHT_OTHER = 20;
export const REFUSAL_WEIGHT = 30;
export const VIOLATION_WEIGHT = 60;
export const RECOVER_WEIGHT = 50;
export const REWRITTEN_WEIGHT = 400;
const DAY_MS = 86_400_000;

export interface TrustComponents {
  /** Full days from the agent's agent.add to the last event counted. */
  age_days: number;
  age: number;
  /** Mints, gateway requests that went through (status below 400), runs that ended with exit code 0. */
  successes: number;
  activity: number;
  /** Gateway denials by reason. */
  denied: Record<string, number>;
  denials: number;
  /** token.refuse events: mints refused by policy. */
  refused: number;
  refusals: number;
  /** Invariant violations replay finds, by code (a run with no end is not counted: it may still be going). */
  violated: Record<string, number>;
  violations: number;
  /** log.recover and log.rewritten events since the agent was added. */
  recovered: number;
  rewritten: number;
  integrity: number;
}

export interface TrustScore {
  agent: string;
  score: number;
  /** The `ts` of the agent.add counted from (its latest), or null when the log holds none. */
  added: string | null;
  /** An agent.remove follows that agent.add. */
  removed: boolean;
  /** The `ts` of the last event counted: the score's "now". */
  at: string | null;
  components: TrustComponents;
}

interface Counts {
  added: string | null;
  removed: boolean;
  successes: number;
  denied: Record<string, number>;
  refused: number;
  violated: Record<string, number>;
  /** The log's log.recover and log.rewritten counts when the agent was added: only later ones weigh on it. */
  recoveredBefore: number;
  rewrittenBefore: number;
}

export interface TrustTally {
  /** Takes the next event of the log, in order. */
  add(event: ReplayEvent): void;
  /** The agents the events named, sorted. */
  agents(): string[];
  /** The score of `agent` over the events added so far. */
  score(agent: string): TrustScore;
}

/** Counts, per agent, what the score is made of, one event at a time (a log need not fit in memory). */
export function createTrustTally(): TrustTally {
  const counts = new Map<string, Counts>();
  let recovered = 0;
  let rewritten = 0;
  let lastTs: string | null = null;
  // An agent the log never adds is counted from the log's first event.
  const fresh = (added: string | null): Counts => ({ added, removed: false, successes: 0, denied: {}, refused: 0, violated: {}, recoveredBefore: added === null ? 0 : recovered, rewrittenBefore: added === null ? 0 : rewritten });
  const countsOf = (agent: string): Counts => {
    let entry = counts.get(agent);
    if (!entry) {
      entry = fresh(null);
      counts.set(agent, entry);
    }
    return entry;
  };
  const replay = createReplay({}, (violation: Violation) => {
    if (violation.agent === null || violation.code === 'RUN_NOT_ENDED') return;
    const entry = countsOf(violation.agent);
    entry.violated[violation.code] = (entry.violated[violation.code] ?? 0) + 1;
  });
  return {
    add(event) {
      lastTs = event.ts;
      const agent = agentOf(event);
      // Re-adding a name starts a new agent: what the old one did is not counted.
      if (event.kind === 'agent.add' && agent !== null) counts.set(agent, fresh(event.ts));
      replay.apply(event);
      if (event.kind === 'log.recover') recovered += 1;
      if (event.kind === 'log.rewritten') rewritten += 1;
      if (agent === null) return;
      const entry = countsOf(agent);
      const data = event.data;
      switch (event.kind) {
        case 'agent.remove':
          entry.removed = true;
          break;
        case 'token.mint':
          entry.successes += 1;
          break;
        case 'token.refuse':
          entry.refused += 1;
          break;
        case 'run.end':
          if (data['exit_code'] === 0) entry.successes += 1;
          break;
        case 'gateway.request':
        case 'gateway.deny': {
          if (event.kind === 'gateway.deny' || data['decision'] === 'deny') {
            const reason = typeof data['reason'] === 'string' ? data['reason'] : 'other';
            entry.denied[reason] = (entry.denied[reason] ?? 0) + 1;
          } else if ((data['decision'] === 'allow' || data['decision'] === 'tunnel') && typeof data['status'] === 'number' && data['status'] < 400) {
            entry.successes += 1;
          }
          break;
        }
      }
    },
    agents: () => [...counts.keys()].sort(),
    score: (agent) => scoreOf(agent, counts.get(agent) ?? fresh(null), recovered, rewritten, lastTs),
  };
}

/** The score of `agent` over `events` (in log order). */
export function computeTrust(events: Iterable<ReplayEvent>, agent: string): TrustScore {
  const tally = createTrustTally();
  for (const event of events) tally.add(event);
  return tally.score(agent);
}

function scoreOf(agent: string, c: Counts, recoveredInLog: number, rewrittenInLog: number, at: string | null): TrustScore {
  const recovered = recoveredInLog - c.recoveredBefore;
  const rewritten = rewrittenInLog - c.rewrittenBefore;
  const ageDays = c.added !== null && at !== null ? Math.max(0, Math.floor((Date.parse(at) - Date.parse(c.added)) / DAY_MS)) : 0;
  const age = Math.min(ageDays, AGE_DAYS_CAP) * AGE_POINTS_PER_DAY;
  const activity = Math.min(c.successes, ACTIVITY_CAP);
  let denials = 0;
  for (const [reason, n] of Object.entries(c.denied)) denials += n * (DENIAL_WEIGHTS[reason] ?? DENIAL_WEIGHT_OTHER);
  const refusals = c.refused * REFUSAL_WEIGHT;
  const violations = Object.values(c.violated).reduce((sum, n) => sum + n, 0) * VIOLATION_WEIGHT;
  const integrity = recovered * RECOVER_WEIGHT + rewritten * REWRITTEN_WEIGHT;
  const raw = TRUST_BASE + age + activity - denials - refusals - violations - integrity;
  return {
    agent,
    score: Math.min(TRUST_MAX, Math.max(0, raw)),
    added: c.added,
    removed: c.removed,
    at,
    components: {
      age_days: ageDays,
      age,
      successes: c.successes,
      activity,
      denied: sortKeys(c.denied),
      denials,
      refused: c.refused,
      refusals,
      violated: sortKeys(c.violated),
      violations,
      recovered,
      rewritten,
      integrity,
    },
  };
}

function sortKeys(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function toTrustClaim(score: TrustScore, log: TrustClaim['log']): TrustClaim {
  const c = score.components;
  return { v: 1, score: score.score, log, components: { age: c.age, activity: c.activity, denials: c.denials, refusals: c.refusals, violations: c.violations, integrity: c.integrity } };
}
