// Human output for `secret …`, `grant` and `run`. Never shows a value.
import type { GrantRecord, SecretRecord } from '../core/config.js';
import { describePlacement } from '../core/secrets.js';
import type { Style } from './style.js';
import { formatTable } from './table.js';

/** A secret's binding as listed: the record, with its path prefix as `path`, and who may use it. */
export type SecretView = Omit<SecretRecord, 'pathPrefix'> & {
  path?: string;
  grants: { agent: string; methods?: string[]; paths?: string[] }[];
};

function describePlacements(view: SecretView): string {
  return view.placements.map(describePlacement).join('; ');
}

function describeGrantLimits(grant: { methods?: string[]; paths?: string[] }): string {
  const parts = [grant.methods ? grant.methods.join(',') : '', grant.paths ? grant.paths.join(',') : ''].filter(Boolean);
  return parts.length ? ` (${parts.join(' ')})` : '';
}

export function renderSecret(view: SecretView, style: Style): string {
  const lines = [
    `  ${style.dim('hosts')}    ${view.hosts.join(', ')}`,
    `  ${style.dim('sent in')}  ${describePlacements(view)}`,
    `  ${style.dim('methods')}  ${view.methods ? view.methods.join(', ') : 'any'}`,
    `  ${style.dim('paths')}    ${view.path ?? 'any'}`,
  ];
  if (view.env) lines.push(`  ${style.dim('env')}      ${view.env.join(', ')} (a placeholder in the child)`);
  if (view.preset) lines.push(`  ${style.dim('preset')}   ${view.preset}`);
  if (view.baseUrlEnv) lines.push(`  ${style.dim('base url')} ${view.baseUrlEnv}`);
  lines.push(`  ${style.dim('granted')}  ${view.grants.length ? view.grants.map((grant) => `${grant.agent}${describeGrantLimits(grant)}`).join(', ') : 'to no agent yet'}`);
  return lines.join('\n');
}

export function renderSecretList(views: SecretView[], style: Style): string {
  if (views.length === 0) return style.dim('No secrets yet. Add one with: printf %s "$KEY" | agentauth secret add NAME --preset PROVIDER (or --host HOST --header NAME)');
  return formatTable(
    views.map((view) => [
      view.name,
      view.hosts.join(','),
      describePlacements(view),
      view.methods ? view.methods.join(',') : 'any',
      view.path ?? '/',
      view.env?.join(',') ?? '',
      view.grants.length ? view.grants.map((grant) => `${grant.agent}${describeGrantLimits(grant)}`).join(', ') : '-',
    ]),
    ['NAME', 'HOSTS', 'SENT IN', 'METHODS', 'PATH', 'ENV', 'GRANTED TO'].map((title) => style.bold(title)),
  );
}

export function renderGrant(agent: string, grant: GrantRecord, style: Style): string {
  return `${style.green('Granted')} ${grant.secret} to ${agent}${describeGrantLimits(grant) || ' (everything the secret allows)'}`;
}
