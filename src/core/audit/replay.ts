// `audit replay`: rebuilds what happened from a verified log: per agent the
// tokens minted, the gateway requests and denials, secrets used, runs; and
// flags invariant violations. It only reads; it never re-sends anything.
//
// The rebuilding is a pure function of the events in order (createReplay),
// so that the trust score (trust.ts) counts exactly the violations replay
// shows. replayLog feeds it from the verified segments of a log.
import type { VerifyOptions } from './checker.js';
import { verifySegments, type ChainReport } from './verify-chain.js';

export interface ReplayFilters {
  agent?: string;
  /** Exact kind, or a prefix ending in `*` (`gateway.*`). */
  kind?: string;
  /** Epoch milliseconds, inclusive. */
  since?: number;
  /** Epoch milliseconds, exclusive. */
  until?: number;
  host?: string;
  jti?: string;
}

export interface ReplayEvent {
  seq: number;
  ts: string;
  kind: string;
  actor: Record<string, unknown>;
  data: Record<string, unknown>;
  /** The segment of a rotated log the event is in (set when the log has several). */
  segment?: number;
}

export interface TokenSummary {
  jti: string;
  aud: unknown;
  scope: unknown;
  exp: unknown;
  seq: number;
  ts: string;
}

export interface AgentSummary {
  agent: string;
  tokens: TokenSummary[];
  requests: number;
  denied: number;
  hosts: Record<string, number>;
  secrets: string[];
  runsStarted: number;
  runsEnded: number;
}

export type ViolationCode = 'UNKNOWN_JTI' | 'USED_AFTER_EXP' | 'OUT_OF_SCOPE' | 'RUN_NOT_ENDED';

export interface Violation {
  code: ViolationCode;
  seq: number;
  ts: string;
  agent: string | null;
  jti: string | null;
  message: string;
  segment?: number;
}

export interface ReplayResult {
  chain: ChainReport;
  matched: number;
  agents: AgentSummary[];
  violations: Violation[];
}

interface TokenState {
  exp: number | null;
  agent: string | null;
  /** Secrets the session was granted (from run.start), when known. */
  secrets: Set<string> | null;
}

/** The agent an event is about: data.agent, else an `agent:NAME` actor. */
export function agentOf(event: ReplayEvent): string | null {
  if (typeof event.data['agent'] === 'string') return event.data['agent'];
  const sub = event.actor['sub'];
  return typeof sub === 'string' && sub.startsWith('agent:') ? sub.slice('agent:'.length) : null;
}

function jtiOf(event: ReplayEvent): string | null {
  if (typeof event.actor['jti'] === 'string') return event.actor['jti'];
  return typeof event.data['jti'] === 'string' ? event.data['jti'] : null;
}

function matchesFilters(event: ReplayEvent, filters: ReplayFilters): boolean {
  if (filters.agent !== undefined && agentOf(event) !== filters.agent) return false;
  if (filters.kind !== undefined) {
    const kind = filters.kind;
    if (kind.endsWith('*') ? !event.kind.startsWith(kind.slice(0, -1)) : event.kind !== kind) return false;
  }
  if (filters.since !== undefined || filters.until !== undefined) {
    const at = Date.parse(event.ts);
    if (filters.since !== undefined && !(at >= filters.since)) return false;
    if (filters.until !== undefined && !(at < filters.until)) return false;
  }
  if (filters.host !== undefined && event.data['host'] !== filters.host) return false;
  if (filters.jti !== undefined && jtiOf(event) !== filters.jti) return false;
  return true;
}

export interface Replay {
  /** Takes the next event of the log, in order; returns whether it matches the filters. */
  apply(event: ReplayEvent): boolean;
  /** The summaries and violations so far, with runs still open reported as RUN_NOT_ENDED. */
  finish(): { agents: AgentSummary[]; violations: Violation[] };
}

/**
 * The replay state machine: per agent summaries and the invariant violations,
 * from events in log order. `onViolation` hears of each violation as the
 * event that causes it is applied (a run with no end is only known at the end).
 */
export function createReplay(filters: ReplayFilters = {}, onViolation?: (violation: Violation) => void): Replay {
  const agents = new Map<string, AgentSummary & { secretSet: Set<string> }>();
  const tokens = new Map<string, TokenState>();
  const openRuns = new Map<string, ReplayEvent>();
  // A run's grants, by run id; and which run each session token belongs to (renewals included).
  const runSecrets = new Map<string, Set<string> | null>();
  const tokenRun = new Map<string, string>();
  const violations: Violation[] = [];
  const summary = (name: string) => {
    let entry = agents.get(name);
    if (!entry) {
      entry = { agent: name, tokens: [], requests: 0, denied: 0, hosts: {}, secrets: [], runsStarted: 0, runsEnded: 0, secretSet: new Set() };
      agents.set(name, entry);
    }
    return entry;
  };
  const violate = (event: ReplayEvent, code: ViolationCode, message: string) => {
    if (!matchesFilters(event, filters)) return;
    const violation: Violation = { code, seq: event.seq, ts: event.ts, agent: agentOf(event), jti: jtiOf(event), message, ...(event.segment !== undefined ? { segment: event.segment } : {}) };
    violations.push(violation);
    onViolation?.(violation);
  };
  return {
    apply(event) {
      const agent = agentOf(event);
      const inScope = matchesFilters(event, filters);
      switch (event.kind) {
        case 'token.mint': {
          const jti = typeof event.data['jti'] === 'string' ? event.data['jti'] : null;
          const run = typeof event.data['run'] === 'string' ? event.data['run'] : null;
          if (jti && run) tokenRun.set(jti, run);
          const inherited = run && runSecrets.has(run) ? runSecrets.get(run)! : (jti ? tokens.get(jti)?.secrets : null) ?? null;
          if (jti) tokens.set(jti, { exp: typeof event.data['exp'] === 'number' ? event.data['exp'] : null, agent, secrets: inherited });
          if (agent && inScope) summary(agent).tokens.push({ jti: jti ?? '', aud: event.data['aud'], scope: event.data['scope'], exp: event.data['exp'], seq: event.seq, ts: event.ts });
          break;
        }
        case 'run.start': {
          const jti = typeof event.data['jti'] === 'string' ? event.data['jti'] : null;
          // Runs pair by run id; logs from before run ids paired run.start and run.end by the session jti.
          const run = typeof event.data['run'] === 'string' ? event.data['run'] : jti;
          const secrets = Array.isArray(event.data['secrets']) ? new Set(event.data['secrets'].filter((s): s is string => typeof s === 'string')) : null;
          if (run) {
            runSecrets.set(run, secrets);
            openRuns.set(run, event);
            // Every token of this run, the first and any renewal already seen, is held to its grants.
            for (const [token, owner] of tokenRun) if (owner === run && tokens.has(token)) tokens.get(token)!.secrets = secrets;
          }
          if (jti) {
            const known = tokens.get(jti);
            tokens.set(jti, { exp: known?.exp ?? null, agent: known?.agent ?? agent, secrets });
          }
          if (agent && inScope) summary(agent).runsStarted++;
          break;
        }
        case 'run.end': {
          const run = typeof event.data['run'] === 'string' ? event.data['run'] : typeof event.data['jti'] === 'string' ? event.data['jti'] : null;
          if (run) openRuns.delete(run);
          if (agent && inScope) summary(agent).runsEnded++;
          break;
        }
        case 'run.fail': {
          // The child never started: nothing to end.
          if (typeof event.data['run'] === 'string') openRuns.delete(event.data['run']);
          break;
        }
        case 'gateway.request':
        case 'gateway.deny': {
          const jti = jtiOf(event);
          const token = jti ? tokens.get(jti) : undefined;
          const secret = event.data['secret'];
          if (!jti || !token) violate(event, 'UNKNOWN_JTI', `a gateway request used ${jti ? `jti ${jti}, which was never minted` : 'no jti'}`);
          else {
            // Integer milliseconds against exp in seconds: the same comparison in any language.
            if (token.exp !== null && Date.parse(event.ts) > token.exp * 1000) violate(event, 'USED_AFTER_EXP', `jti ${jti} was used after it expired (exp ${token.exp})`);
            if (token.secrets && typeof secret === 'string' && !token.secrets.has(secret)) violate(event, 'OUT_OF_SCOPE', `secret ${secret} was not granted to session ${jti}`);
            if (token.agent && agent && token.agent !== agent) violate(event, 'OUT_OF_SCOPE', `jti ${jti} was minted for ${token.agent} but used by ${agent}`);
          }
          if (agent && inScope) {
            const s = summary(agent);
            const denied = event.kind === 'gateway.deny' || event.data['decision'] === 'deny';
            if (denied) s.denied++;
            else s.requests++;
            if (typeof event.data['host'] === 'string') s.hosts[event.data['host']] = (s.hosts[event.data['host']] ?? 0) + 1;
            if (typeof secret === 'string' && !denied) s.secretSet.add(secret);
          }
          break;
        }
      }
      return inScope;
    },
    finish() {
      const all = [...violations];
      for (const run of openRuns.values()) {
        if (!matchesFilters(run, filters)) continue;
        all.push({ code: 'RUN_NOT_ENDED', seq: run.seq, ts: run.ts, agent: agentOf(run), jti: jtiOf(run), message: `the run started at seq ${run.seq} (${typeof run.data['run'] === 'string' ? `run ${run.data['run']}` : `jti ${jtiOf(run) ?? '?'}`}) has no run.end`, ...(run.segment !== undefined ? { segment: run.segment } : {}) });
      }
      all.sort((a, b) => (a.segment ?? 0) - (b.segment ?? 0) || a.seq - b.seq);
      const list = [...agents.values()].map(({ secretSet, ...rest }) => ({ ...rest, secrets: [...secretSet].sort() })).sort((a, b) => a.agent.localeCompare(b.agent));
      return { agents: list, violations: all };
    },
  };
}

/** Parses an event line the verifier accepted, as replay sees it. */
export function readReplayEvent(line: string, segment?: number): ReplayEvent {
  const event = JSON.parse(line) as ReplayEvent;
  event.data ??= {};
  event.actor ??= {};
  if (segment !== undefined) event.segment = segment;
  return event;
}

/**
 * Verifies the log's segments (oldest first) and replays them. `onMatch`
 * sees each event that passes the filters, in order, as soon as it is
 * verified up to that line; if verification later fails, the caller must
 * discard what it printed (the report says so).
 */
export async function replayLog(files: readonly string[], verify: VerifyOptions, filters: ReplayFilters, onMatch: (event: ReplayEvent) => void): Promise<ReplayResult> {
  const replay = createReplay(filters);
  let matched = 0;
  let segment: number | undefined;
  const chain = await verifySegments(files, {
    ...verify,
    onSegment: (entry) => {
      segment = files.length > 1 ? entry.segment : undefined;
    },
    onEvent: (line) => {
      const event = readReplayEvent(line, segment);
      if (replay.apply(event)) {
        matched++;
        onMatch(event);
      }
    },
  });
  return { chain, matched, ...replay.finish() };
}
