// `audit replay`: rebuilds what happened from a verified log: per agent the
// tokens minted, the gateway requests and denials, secrets used, runs; and
// flags invariant violations. It only reads; it never re-sends anything.
import { verifyLogFile, type VerifyOptions, type VerifyReport } from './verify.js';

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
}

export interface ReplayResult {
  report: VerifyReport;
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

function agentOf(event: ReplayEvent): string | null {
  if (typeof event.data['agent'] === 'string') return event.data['agent'];
  const sub = event.actor['sub'];
  return typeof sub === 'string' && sub.startsWith('agent:') ? sub.slice('agent:'.length) : null;
}

function jtiOf(event: ReplayEvent): string | null {
  if (typeof event.actor['jti'] === 'string') return event.actor['jti'];
  return typeof event.data['jti'] === 'string' ? event.data['jti'] : null;
}

export function matchesFilters(event: ReplayEvent, filters: ReplayFilters): boolean {
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

/**
 * Verifies the log and replays it. `onMatch` sees each event that passes the
 * filters, in order, as soon as it is verified up to that line; if verification
 * later fails, the caller must discard what it printed (the report says so).
 */
export async function replayLog(file: string, verify: VerifyOptions, filters: ReplayFilters, onMatch: (event: ReplayEvent) => void): Promise<ReplayResult> {
  const agents = new Map<string, AgentSummary & { secretSet: Set<string> }>();
  const tokens = new Map<string, TokenState>();
  const openRuns = new Map<string, ReplayEvent>();
  // A run's grants, by run id; and which run each session token belongs to (renewals included).
  const runSecrets = new Map<string, Set<string> | null>();
  const tokenRun = new Map<string, string>();
  const violations: Violation[] = [];
  let matched = 0;
  const summary = (name: string) => {
    let entry = agents.get(name);
    if (!entry) {
      entry = { agent: name, tokens: [], requests: 0, denied: 0, hosts: {}, secrets: [], runsStarted: 0, runsEnded: 0, secretSet: new Set() };
      agents.set(name, entry);
    }
    return entry;
  };
  const violate = (event: ReplayEvent, code: ViolationCode, message: string) => {
    if (matchesFilters(event, filters)) violations.push({ code, seq: event.seq, ts: event.ts, agent: agentOf(event), jti: jtiOf(event), message });
  };

  const report = await verifyLogFile(file, {
    ...verify,
    onEvent: (line) => {
      const event = JSON.parse(line) as ReplayEvent;
      event.data ??= {};
      event.actor ??= {};
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
          if (!jti || !token) violate(event, 'UNKNOWN_JTI', `a gateway request used ${jti ? `jti ${jti}, which was never minted` : 'no jti'}`);
          else {
            if (token.exp !== null && Date.parse(event.ts) / 1000 > token.exp) violate(event, 'USED_AFTER_EXP', `jti ${jti} was used after it expired (exp ${token.exp})`);
            const secret = event.data['secret'];
            if (token.secrets && typeof secret === 'string' && !token.secrets.has(secret)) violate(event, 'OUT_OF_SCOPE', `secret ${secret} was not granted to session ${jti}`);
            if (token.agent && agent && token.agent !== agent) violate(event, 'OUT_OF_SCOPE', `jti ${jti} was minted for ${token.agent} but used by ${agent}`);
          }
          if (agent && inScope) {
            const s = summary(agent);
            const denied = event.kind === 'gateway.deny' || event.data['decision'] === 'deny';
            if (denied) s.denied++;
            else s.requests++;
            if (typeof event.data['host'] === 'string') s.hosts[event.data['host']] = (s.hosts[event.data['host']] ?? 0) + 1;
            if (typeof secret_(event) === 'string' && !denied) s.secretSet.add(secret_(event) as string);
          }
          break;
        }
      }
      if (inScope) {
        matched++;
        onMatch(event);
      }
    },
  });
  for (const run of openRuns.values()) violate(run, 'RUN_NOT_ENDED', `the run started at seq ${run.seq} (${typeof run.data['run'] === 'string' ? `run ${run.data['run']}` : `jti ${jtiOf(run) ?? '?'}`}) has no run.end`);
  violations.sort((a, b) => a.seq - b.seq);
  const list = [...agents.values()]
    .map(({ secretSet, ...rest }) => ({ ...rest, secrets: [...secretSet].sort() }))
    .sort((a, b) => a.agent.localeCompare(b.agent));
  return { report, matched, agents: list, violations };
}

function secret_(event: ReplayEvent): unknown {
  return event.data['secret'];
}
