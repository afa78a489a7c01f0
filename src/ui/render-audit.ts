// Human output for `agentauth audit …`. Machine output is the --json document.
import type { VerifyReport } from '../core/audit/verify.js';
import type { ReplayEvent, ReplayResult } from '../core/audit/replay.js';
import type { ProofCheck } from '../core/audit/prove.js';
import type { Style } from './style.js';
import { formatTable } from './table.js';

export function renderVerify(report: VerifyReport, strict: boolean, passed: boolean, style: Style): string {
  const lines: string[] = [];
  if (report.error) {
    const e = report.error;
    lines.push(`${style.red('TAMPERED')} ${report.file}`);
    lines.push(`  ${style.bold(e.code)} at line ${e.line}, byte ${e.byte_offset}${e.seq !== null ? `, seq ${e.seq}` : ''}: ${e.message}`);
  } else {
    lines.push(`${passed ? style.green('verified') : style.red('not verified (--strict: warnings count)')} ${report.file}`);
  }
  lines.push(`  events ${report.events}, checkpoints ${report.checkpoints}, head size ${report.head.size} root ${report.head.root}`);
  if (report.lastCheckpoint) lines.push(`  last checkpoint covers ${report.lastCheckpoint.size} event(s); ${report.uncovered} after it are not signed yet`);
  else lines.push(`  no checkpoint yet: ${report.uncovered} event(s) are not covered by a signature`);
  if (report.vkey) lines.push(`  vkey ${report.vkey}${report.vkeySource === 'log' ? style.yellow(' (from the log itself)') : ''}`);
  if (report.trusted) lines.push(`  trusted checkpoint size ${report.trusted.size}: ${report.trusted.result}`);
  for (const warning of report.warnings) {
    const count = report.warningCounts[warning.code] ?? 1;
    lines.push(`  ${style.yellow(warning.code)}${count > 1 ? ` (×${count}, first shown)` : ''}${warning.line ? ` line ${warning.line}` : ''}: ${warning.message}`);
  }
  if (strict) lines.push(style.dim('  (--strict: warnings fail the check)'));
  return lines.join('\n');
}

function describe(event: ReplayEvent): string {
  const d = event.data;
  switch (event.kind) {
    case 'token.mint':
      return `minted ${String(d['jti'])} aud=${String(d['aud'])} scope="${String(d['scope'])}" exp=${String(d['exp'])}`;
    case 'gateway.request':
    case 'gateway.deny':
      return `${String(d['method'])} ${String(d['host'])}${String(d['path'] ?? '')} → ${String(d['decision'])} ${String(d['status'] ?? '')}${d['secret'] ? ` secret=${String(d['secret'])}` : ''}${d['reason'] ? ` (${String(d['reason'])})` : ''}`;
    case 'run.start':
      return `run ${String(d['command'])} session=${String(d['jti'])} port=${String(d['port'])}`;
    case 'run.end':
      return `run ended session=${String(d['jti'])} ${d['signal'] ? `signal=${String(d['signal'])}` : `exit=${String(d['exit_code'])}`} requests=${String(d['requests'])} denied=${String(d['denied'])}`;
    default:
      return JSON.stringify(d);
  }
}

export function renderReplayEvent(event: ReplayEvent, style: Style): string {
  const who = typeof event.data['agent'] === 'string' ? event.data['agent'] : String(event.actor['sub'] ?? '');
  const kind = event.kind === 'gateway.deny' || event.data['decision'] === 'deny' ? style.red(event.kind) : style.cyan(event.kind);
  return `${style.dim(event.ts)} #${event.seq} ${kind} ${who} ${describe(event)}`;
}

export function renderReplay(result: ReplayResult, style: Style): string {
  const lines: string[] = [''];
  lines.push(style.bold(`${result.matched} matching event(s) of ${result.report.events}`));
  if (result.agents.length > 0) {
    lines.push(
      formatTable(
        result.agents.map((a) => [a.agent, String(a.tokens.length), String(a.requests), String(a.denied), Object.keys(a.hosts).sort().join(' '), a.secrets.join(' '), `${a.runsStarted}/${a.runsEnded}`]),
        ['AGENT', 'TOKENS', 'REQUESTS', 'DENIED', 'HOSTS', 'SECRETS', 'RUNS'],
      ),
    );
  }
  if (result.violations.length > 0) {
    lines.push(style.red(`${result.violations.length} violation(s):`));
    for (const v of result.violations) lines.push(`  #${v.seq} ${style.bold(v.code)} ${v.message}`);
  } else {
    lines.push(style.green('no invariant violations'));
  }
  return lines.join('\n');
}

export function renderProofCheck(check: ProofCheck, style: Style): string {
  return `${check.ok ? style.green('valid') : style.red('INVALID')} ${check.type} proof: ${check.message}`;
}

export function renderCheckpoint(data: { size: number; root: string; created: boolean; out?: string; note: string }, style: Style): string {
  const head = data.created ? `signed checkpoint for ${data.size} event(s)` : `no new events; the head is the checkpoint for ${data.size} event(s)`;
  return `${style.green(head)}\n  root ${data.root}${data.out ? `\n  note written to ${data.out} (keep a copy elsewhere: audit verify --trusted FILE)` : ''}\n\n${data.note}`;
}

export function renderTailLine(line: string, style: Style): string {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (value['kind'] === 'checkpoint') return `${style.dim('checkpoint')} size ${String(value['size'])} root ${String(value['root']).slice(0, 16)}…`;
    return renderReplayEvent(value as unknown as ReplayEvent, style);
  } catch {
    return style.red(`unparsable: ${line}`);
  }
}
