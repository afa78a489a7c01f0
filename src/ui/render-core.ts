// Human renderings for init, status, doctor, keys, agents and tokens.
import type { AgentRecord, IssuerKeyRecord } from '../core/config.js';
import { formatDuration } from '../core/duration.js';
import { plural } from './plural.js';
import type { Style } from './style.js';
import { formatTable } from './table.js';

function field(style: Style, label: string, value: string): string {
  return `  ${style.dim(label.padEnd(12))}${value}`;
}

export function renderInit(
  data: { backend: string; issuer: string; kid: string; log: { origin: string; vkey: string }; paths: Record<string, string> },
  style: Style,
): string {
  return [
    style.green(`Initialised agentauth (${data.backend} backend)`),
    field(style, 'issuer', data.issuer),
    field(style, 'key id', data.kid),
    ...Object.entries(data.paths).map(([name, path]) => field(style, name, path)),
    field(style, 'log vkey', data.log.vkey),
    '',
    `Next: agentauth agent add NAME --scope SCOPE`,
  ].join('\n');
}

export function renderStatus(
  data: {
    backend: string;
    persistence: string;
    issuer: string;
    activeKid: string;
    keys: number;
    agents: number;
    secrets: number;
    log: { origin: string; path: string };
    serve: { socket: string; up: boolean; pid?: number; http?: string | null; note?: string };
    files: { path: string; exists: boolean; mode?: string; ok: boolean; fix?: string }[];
    keystore: { ok: boolean; detail: string; fix?: string };
    sandbox: { available: boolean; mode: string; detail: string; fix?: string };
  },
  style: Style,
): string {
  const lines = [
    field(style, 'backend', `${data.backend}: ${data.persistence}`),
    field(style, 'issuer', data.issuer),
    field(style, 'active kid', data.activeKid),
    field(style, 'counts', `${plural(data.agents, 'agent')}, ${plural(data.secrets, 'secret')}, ${plural(data.keys, 'key')}`),
    field(style, 'keys', data.keystore.ok ? style.green(data.keystore.detail) : `${style.red(data.keystore.detail)}${data.keystore.fix ? `\n${' '.repeat(14)}fix: ${data.keystore.fix}` : ''}`),
    field(style, 'audit log', `${data.log.path} (${data.log.origin})`),
    field(
      style,
      'serve',
      data.serve.up
        ? `${style.green('up')} (pid ${data.serve.pid}${data.serve.http ? `, ${data.serve.http}` : ''}) on ${data.serve.socket}`
        : `${style.dim('not running')} (socket ${data.serve.socket}${data.serve.note ? `: ${data.serve.note}` : ''}); token mint unlocks the keystore itself`,
    ),
    field(style, 'sandbox', `${data.sandbox.available ? style.green(data.sandbox.detail) : style.yellow(data.sandbox.detail)}; run.sandbox ${data.sandbox.mode}${data.sandbox.fix ? `; fix: ${data.sandbox.fix}` : ''}`),
    field(style, 'files', ''),
  ];
  for (const file of data.files) {
    const state = !file.exists ? style.dim('absent') : file.ok ? style.green(file.mode ?? '') : style.red(`${file.mode} too open: ${file.fix}`);
    lines.push(`    ${file.path}  ${state}`);
  }
  return lines.join('\n');
}

export interface DoctorCheck {
  name: string;
  /** info: neither good nor bad, worth knowing (a backend not used, a source not set). */
  status: 'ok' | 'info' | 'warn' | 'fail';
  ok: boolean;
  detail: string;
  fix?: string;
}

export function renderDoctor(data: { checks: DoctorCheck[] }, style: Style): string {
  const marks = { ok: style.green('ok  '), info: style.dim('info'), warn: style.yellow('warn'), fail: style.red('FAIL') };
  return data.checks
    .map((check) => {
      const mark = marks[check.status];
      return `${mark} ${check.name}: ${check.detail}${check.fix ? `\n     fix: ${check.fix}` : ''}`;
    })
    .join('\n');
}

export function renderKeys(keys: IssuerKeyRecord[], style: Style): string {
  return formatTable(
    keys.map((key) => [
      key.kid,
      key.status === 'active' ? style.green('active') : 'previous',
      key.createdAt,
      key.retireAfter ? `in JWKS until ${new Date(key.retireAfter * 1000).toISOString()}` : '',
    ]),
    ['KID', 'STATUS', 'CREATED', ''],
  );
}

export function renderAgentList(agents: AgentRecord[], style: Style): string {
  if (agents.length === 0) return style.dim('No agents yet. Add one: agentauth agent add NAME --scope SCOPE');
  return formatTable(
    agents.map((agent) => [agent.name, agent.scopes.join(' '), formatDuration(agent.maxTtl), agent.grants.map((grant) => grant.secret).join(',') || '-']),
    ['NAME', 'SCOPES', 'MAX TTL', 'SECRETS'],
  );
}

export function renderAgent(agent: AgentRecord, style: Style): string {
  return [
    style.bold(agent.name) + (agent.description ? `  ${style.dim(agent.description)}` : ''),
    field(style, 'scopes', agent.scopes.join(' ')),
    field(style, 'max ttl', formatDuration(agent.maxTtl)),
    field(style, 'audiences', agent.audiences?.length ? agent.audiences.join(' ') : 'any'),
    ...(agent.dpop ? [field(style, 'dpop', 'required (tokens only with --dpop-key or --dpop-jkt)')] : []),
    field(
      style,
      'secrets',
      agent.grants.length
        ? agent.grants.map((g) => g.secret + (g.methods ? ` ${g.methods.join(',')}` : '') + (g.paths ? ` ${g.paths.join(',')}` : '')).join('; ')
        : 'none',
    ),
    field(style, 'updated', agent.updatedAt),
  ].join('\n');
}

export function renderVerified(
  data: { claims: Record<string, unknown>; kid: string },
  style: Style,
): string {
  const claims = data.claims;
  const exp = typeof claims['exp'] === 'number' ? claims['exp'] : 0;
  const left = exp - Math.floor(Date.now() / 1000);
  return [
    style.green('valid'),
    field(style, 'sub', String(claims['sub'])),
    ...(claims['act'] ? [field(style, 'act', JSON.stringify(claims['act']))] : []),
    field(style, 'iss', String(claims['iss'])),
    field(style, 'aud', String(claims['aud'])),
    field(style, 'scope', String(claims['scope'] ?? '')),
    field(style, 'expires', `${new Date(exp * 1000).toISOString()} (${left > 0 ? `in ${formatDuration(left)}` : 'within clock skew'})`),
    field(style, 'jti', String(claims['jti'])),
    ...(claims['cnf'] ? [field(style, 'dpop jkt', String((claims['cnf'] as { jkt?: unknown }).jkt))] : []),
    field(style, 'kid', data.kid),
  ].join('\n');
}
