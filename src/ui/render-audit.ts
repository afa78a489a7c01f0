// Human output for `agentauth audit …`. Machine output is the --json document.
import { basename, dirname } from 'node:path';
import type { VerifyReport } from '../core/audit/verify.js';
import type { ChainReport } from '../core/audit/verify-chain.js';
import type { SegmentLink } from '../core/audit/segments.js';
import type { ReplayEvent, ReplayResult } from '../core/audit/replay.js';
import type { ProofCheck } from '../core/audit/prove.js';
import type { TrustScore } from '../core/audit/trust.js';
import type { Style } from './style.js';
import { formatTable } from './table.js';

/** How times are shown: as written (UTC), or in the machine's time zone (`--local-time`). */
export interface TimeFormat {
  local: boolean;
}

const UTC: TimeFormat = { local: false };

/** `continues`: the file is a later segment of a rotated log, checked alone. */
export function renderVerify(report: VerifyReport, strict: boolean, passed: boolean, style: Style, continues: { segment: number; previous: SegmentLink } | null = null): string {
  const lines: string[] = [];
  if (report.error) {
    const e = report.error;
    lines.push(`${style.red('TAMPERED')} ${report.file}`);
    lines.push(`  ${style.bold(e.code)} at line ${e.line}, byte ${e.byte_offset}${e.seq !== null ? `, seq ${e.seq}` : ''}: ${e.message}`);
  } else {
    lines.push(`${passed ? style.green('verified') : style.red('not verified (--strict: warnings count)')} ${report.file}`);
  }
  if (continues) lines.push(`  segment ${continues.segment}: continues ${continues.previous.file} at its signed checkpoint size ${continues.previous.size} root ${continues.previous.root}`);
  lines.push(`  events ${report.events}, checkpoints ${report.checkpoints}, head size ${report.head.size} root ${report.head.root}`);
  lines.push(`  ${describeCoverage(report, style)}`);
  if (report.vkey) lines.push(`  vkey ${report.vkey}${report.vkeySource === 'log' ? style.yellow(' (from the log itself)') : ''}`);
  if (report.trusted) lines.push(`  trusted checkpoint size ${report.trusted.size}: ${report.trusted.result}`);
  lines.push(...describeWarnings(report, style, '  '));
  if (strict) lines.push(style.dim('  (--strict: warnings fail the check)'));
  return lines.join('\n');
}

/** The unsigned tail, said once, with what to do about it. */
function describeCoverage(report: VerifyReport, style: Style): string {
  if (report.uncovered === 0) return report.lastCheckpoint ? `every event is covered by the last checkpoint (size ${report.lastCheckpoint.size})` : 'no events';
  const what = report.lastCheckpoint ? `${report.uncovered} event(s) after the last checkpoint (size ${report.lastCheckpoint.size})` : `no checkpoint yet: ${report.uncovered} event(s)`;
  return `${style.yellow(what)} are not signed yet: run ${style.bold('agentauth audit checkpoint')}`;
}

function describeWarnings(report: VerifyReport, style: Style, indent: string): string[] {
  // UNCOVERED_TAIL is the coverage line above.
  return report.warnings
    .filter((warning) => warning.code !== 'UNCOVERED_TAIL')
    .map((warning) => {
      const count = report.warningCounts[warning.code] ?? 1;
      return `${indent}${style.yellow(warning.code)}${count > 1 ? ` (×${count}, first shown)` : ''}${warning.line ? ` line ${warning.line}` : ''}: ${warning.message}`;
    });
}

/** Several segments of a rotated log: one line each, saying where it starts. */
export function renderChain(chain: ChainReport, strict: boolean, passed: boolean, style: Style): string {
  const lines: string[] = [];
  const origin = chain.segments.find((s) => s.report.origin)?.report.origin ?? '?';
  if (chain.error) {
    const e = chain.error;
    lines.push(`${style.red('TAMPERED')} ${chain.segments.length} segment(s) of ${origin}`);
    lines.push(`  ${style.bold(e.code)} in ${e.file}${e.line ? ` at line ${e.line}, byte ${e.byte_offset}` : ''}${e.seq !== null && e.line ? `, seq ${e.seq}` : ''}: ${e.message}`);
  } else {
    lines.push(`${passed ? style.green('verified') : style.red('not verified (--strict: warnings count)')} ${chain.segments.length} segments of ${origin}, ${chain.events} events`);
  }
  const rows = chain.segments.map((s, i) => {
    const r = s.report;
    let starts: string;
    if (s.previous === null) starts = 'the log’s first segment';
    else if (i === 0) starts = `starts after ${s.previous.file} (not here): its signed checkpoint size ${s.previous.size} root ${s.previous.root.slice(0, 16)}…`;
    else starts = `continues segment ${chain.segments[i - 1]!.segment} at its checkpoint size ${s.previous.size}`;
    const end = r.error ? style.red(r.error.code) : r.uncovered > 0 ? style.yellow(`${r.uncovered} not signed yet`) : 'sealed';
    return [String(s.segment), basename(s.file), String(r.events), i === chain.segments.length - 1 && r.uncovered === 0 && !r.error ? 'all signed' : end, starts];
  });
  lines.push(formatTable(rows, ['SEGMENT', 'FILE', 'EVENTS', 'END', 'STARTS']));
  const last = chain.segments.at(-1)?.report;
  if (last && last.uncovered > 0 && !chain.error) lines.push(`  ${describeCoverage(last, style)}`);
  const vkey = chain.segments.find((s) => s.report.vkey)?.report;
  if (vkey?.vkey) lines.push(`  vkey ${vkey.vkey}${vkey.vkeySource === 'log' ? style.yellow(' (from the log itself)') : ''}`);
  if (chain.trusted) lines.push(`  trusted checkpoint size ${chain.trusted.size}: ${chain.trusted.result}${chain.trusted.file ? ` (in ${basename(chain.trusted.file)})` : ''}`);
  for (const s of chain.segments) lines.push(...describeWarnings(s.report, style, `  ${basename(s.file)}: `));
  if (strict) lines.push(style.dim('  (--strict: warnings fail the check)'));
  return lines.join('\n');
}

/** `2026-11-22T12:00:00.123Z` as written, or in local time with its offset (`2026-11-22 13:00:00.123 +01:00`). */
function formatTime(ts: string, time: TimeFormat = UTC): string {
  if (!time.local) return ts;
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) return ts;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)} ${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
}

const list = (value: unknown): string => (Array.isArray(value) ? value.map(String).join(', ') : String(value));

function describeTtl(seconds: unknown): string {
  if (typeof seconds !== 'number') return String(seconds);
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** `key=value` pairs for the kinds this version does not know: readable, and nothing hidden. */
function describeFields(data: Record<string, unknown>): string {
  return Object.entries(data)
    .map(([key, value]) => `${key}=${value !== null && typeof value === 'object' && !Array.isArray(value) ? JSON.stringify(value) : list(value)}`)
    .join(' ');
}

function describeAgentEntry(d: Record<string, unknown>): string {
  const parts = [`scopes ${String(d['scope'] ?? '')}`, `max ttl ${describeTtl(d['max_ttl'])}`];
  if (d['aud'] !== undefined) parts.push(`audiences ${list(d['aud'])}`);
  if (Array.isArray(d['secrets']) && d['secrets'].length > 0) parts.push(`secrets ${list(d['secrets'])}`);
  return parts.join('; ');
}

function describe(event: ReplayEvent): string {
  const d = event.data;
  switch (event.kind) {
    case 'log.init': {
      const previous = d['previous'] as { file?: unknown; size?: unknown } | undefined;
      return previous ? `segment ${String(d['segment'])} begins; it continues ${String(previous.file)} at its checkpoint size ${String(previous.size)}` : `log started for ${String(d['origin'])}`;
    }
    case 'log.recover':
      return `a writer was interrupted mid-line: ${String(d['length'])} bytes at byte ${String(d['offset'])} moved to ${String(d['file'])}`;
    case 'log.rewritten':
      return `a writer found its own events gone from the log (first: seq ${String(d['missing_seq'])}); no checkpoint is signed over it`;
    case 'key.create':
      return `issuer key ${String(d['kid'])} created (${String(d['alg'])}, ${String(d['backend'])} backend)`;
    case 'key.rotate':
      return `issuer key rotated: ${String(d['kid'])} is active, ${String(d['previous'])} stays until its tokens expire`;
    case 'key.retire':
      return `issuer key ${String(d['kid'])} retired`;
    case 'agent.add':
      return `agent ${String(d['agent'])} added: ${describeAgentEntry(d)}`;
    case 'agent.update':
      return `agent ${String(d['agent'])} changed: ${describeAgentEntry(d)}`;
    case 'agent.remove':
      return `agent ${String(d['agent'])} removed`;
    case 'secret.add':
      return `secret ${String(d['secret'])} added for ${list(d['hosts'])}${d['header'] !== undefined ? ` in header ${String(d['header'])}` : d['query'] !== undefined ? ` in query ${String(d['query'])}` : ''}`;
    case 'secret.rotate':
      return `secret ${String(d['secret'])} given a new value`;
    case 'secret.remove':
      return `secret ${String(d['secret'])} removed${Array.isArray(d['revoked_from']) && d['revoked_from'].length > 0 ? `, revoked from ${list(d['revoked_from'])}` : ''}`;
    case 'secret.grant':
      return `${String(d['agent'])} may use secret ${String(d['secret'])}${d['methods'] ? ` for ${list(d['methods'])}` : ''}${d['paths'] ? ` on ${list(d['paths'])}` : ''}`;
    case 'secret.revoke':
      return `${String(d['agent'])} may no longer use secret ${String(d['secret'])}`;
    case 'config.set':
      return `setting ${String(d['key'])} = ${list(d['value'])}`;
    case 'config.unset':
      return `setting ${String(d['key'])} back to its default`;
    case 'token.mint':
      return `minted ${String(d['jti'])} aud=${String(d['aud'])} scope="${String(d['scope'])}" exp=${String(d['exp'])}${typeof d['trust'] === 'object' && d['trust'] ? ` trust=${String((d['trust'] as { score?: unknown }).score)}` : ''}`;
    case 'token.refuse':
      return `refused a token${d['reason'] !== undefined ? `: ${String(d['reason'])}` : ''} ${describeFields(Object.fromEntries(Object.entries(d).filter(([key]) => key !== 'agent' && key !== 'reason')))}`.trimEnd();
    case 'gateway.request':
    case 'gateway.deny':
      return `${String(d['method'])} ${String(d['host'])}${d['port'] !== undefined && d['port'] !== 443 ? `:${String(d['port'])}` : ''}${String(d['path'] ?? '')} → ${String(d['decision'])} ${String(d['status'] ?? '')}${d['secret'] ? ` secret=${String(d['secret'])}` : ''}${d['reason'] ? ` (${String(d['reason'])})` : ''}`;
    case 'run.start':
      return `run ${String(d['command'])} session=${String(d['jti'])} port=${String(d['port'])}`;
    case 'run.end':
      return `run ended session=${String(d['jti'])} ${d['signal'] ? `signal=${String(d['signal'])}` : `exit=${String(d['exit_code'])}`} requests=${String(d['requests'])} denied=${String(d['denied'])}`;
    default:
      return describeFields(d);
  }
}

export function renderReplayEvent(event: ReplayEvent, style: Style, time: TimeFormat = UTC): string {
  const who = typeof event.data['agent'] === 'string' ? event.data['agent'] : String(event.actor['sub'] ?? '');
  const kind = event.kind === 'gateway.deny' || event.data['decision'] === 'deny' || event.kind === 'token.refuse' || event.kind === 'log.rewritten' ? style.red(event.kind) : style.cyan(event.kind);
  const where = event.segment !== undefined ? `#${event.segment}:${event.seq}` : `#${event.seq}`;
  return `${style.dim(formatTime(event.ts, time))} ${where} ${kind} ${who} ${describe(event)}`;
}

export function renderReplay(result: ReplayResult, style: Style): string {
  const lines: string[] = [''];
  lines.push(style.bold(`${result.matched} matching event(s) of ${result.chain.events}`));
  if (result.agents.length > 0) {
    lines.push(
      formatTable(
        result.agents.map((a) => [a.agent, String(a.tokens.length), String(a.requests), String(a.denied), Object.keys(a.hosts).sort().join(' ') || '-', a.secrets.join(' ') || '-', a.runsStarted === 0 ? '-' : `${a.runsStarted} started, ${a.runsEnded} ended`]),
        ['AGENT', 'TOKENS', 'REQUESTS', 'DENIED', 'HOSTS', 'SECRETS USED', 'RUNS'],
      ),
    );
  }
  if (result.violations.length > 0) {
    lines.push(style.red(`${result.violations.length} violation(s):`));
    for (const v of result.violations) lines.push(`  #${v.segment !== undefined ? `${v.segment}:` : ''}${v.seq} ${style.bold(v.code)} ${v.message}`);
  } else {
    lines.push(style.green('no invariant violations'));
  }
  return lines.join('\n');
}

export function renderTrust(scores: TrustScore[], log: { segment: number; size: number; root: string }, uncounted: number, style: Style, time: TimeFormat = UTC): string {
  const lines: string[] = [];
  for (const s of scores) {
    const c = s.components;
    lines.push(`${style.bold(s.agent)} trust ${style.bold(String(s.score))} / 1000${s.removed ? style.yellow(' (removed)') : ''}`);
    const rows: string[][] = [
      ['base', '+500', ''],
      ['age', `+${c.age}`, s.added ? `${c.age_days} day(s) since it was added (${formatTime(s.added, time)}), 2 a day up to 100 days` : 'the log does not say when it was added'],
      ['activity', `+${c.activity}`, `${c.successes} successful mint(s), request(s) and run(s), 1 each up to 300`],
      ['denials', `-${c.denials}`, describeCounts(c.denied, 'gateway denial')],
      ['refusals', `-${c.refusals}`, `${c.refused} refused mint(s), 30 each`],
      ['violations', `-${c.violations}`, describeCounts(c.violated, 'invariant violation')],
      ['integrity', `-${c.integrity}`, `${c.recovered} log.recover (50 each), ${c.rewritten} log.rewritten (400 each) since it was added`],
    ];
    lines.push(formatTable(rows, ['', 'POINTS', 'FROM']).replace(/^/gm, '  '));
  }
  lines.push(style.dim(`computed over segment ${log.segment} up to its checkpoint size ${log.size} root ${log.root} (docs/trust.md)`));
  if (uncounted > 0) lines.push(style.yellow(`${uncounted} later event(s) are not counted until a checkpoint covers them: run agentauth audit checkpoint`));
  return lines.join('\n');
}

function describeCounts(counts: Record<string, number>, noun: string): string {
  const entries = Object.entries(counts);
  if (entries.length === 0) return `no ${noun}s`;
  return entries.map(([key, n]) => `${n} ${key}`).join(', ');
}

export function renderProofCheck(check: ProofCheck, style: Style): string {
  return `${check.ok ? style.green('valid') : style.red('INVALID')} ${check.type} proof: ${check.message}`;
}

export function renderCheckpoint(data: { size: number; root: string; created: boolean; out?: string; note: string }, style: Style): string {
  const head = data.created ? `signed checkpoint for ${data.size} event(s)` : `no new events; the head is the checkpoint for ${data.size} event(s)`;
  return `${style.green(head)}\n  root ${data.root}${data.out ? `\n  note written to ${data.out} (keep a copy elsewhere: audit verify --trusted FILE)` : ''}\n\n${data.note}`;
}

export function renderRotation(data: { sealed: string; segment: number; size: number; root: string; live: string }, style: Style): string {
  return `${style.green('Rotated')} the audit log: segment ${data.segment - 1} is sealed as ${data.sealed} (checkpoint size ${data.size}, root ${data.root})\n  ${data.live} is segment ${data.segment}; its log.init names that checkpoint. Verify them together: agentauth audit verify ${dirname(data.live)}`;
}

export function renderTailLine(line: string, style: Style, time: TimeFormat = UTC): string {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (value['kind'] === 'checkpoint') return `${style.dim('checkpoint')} size ${String(value['size'])} root ${String(value['root']).slice(0, 16)}…`;
    const event = value as unknown as ReplayEvent;
    event.data ??= {};
    event.actor ??= {};
    return renderReplayEvent(event, style, time);
  } catch {
    return style.red(`unparsable: ${line}`);
  }
}
