// `agent add | list | show | update | remove`.
import type { AgentRecord } from '../core/config.js';
import { readConfig, updateConfig } from '../core/config.js';
import { addAgent, findAgent, removeAgent, updateAgent, type AgentUpdate } from '../core/agents.js';
import { parseDuration } from '../core/duration.js';
import { renderAgent, renderAgentList } from '../ui/render-core.js';
import { recordEvents } from './audit-events.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig } from './state.js';

interface AgentFlags {
  scope?: string[];
  addScope?: string[];
  removeScope?: string[];
  maxTtl?: string;
  aud?: string[];
  secret?: string[];
  description?: string;
  dpop?: boolean;
}

function toUpdate(flags: AgentFlags): AgentUpdate {
  return {
    ...(flags.scope ? { scopes: flags.scope } : {}),
    ...(flags.addScope ? { addScopes: flags.addScope } : {}),
    ...(flags.removeScope ? { removeScopes: flags.removeScope } : {}),
    ...(flags.maxTtl ? { maxTtl: parseDuration(flags.maxTtl, '--max-ttl') } : {}),
    ...(flags.aud ? { audiences: flags.aud } : {}),
    ...(flags.secret ? { secrets: flags.secret } : {}),
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(flags.dpop !== undefined ? { dpop: flags.dpop } : {}),
  };
}

/** What the audit log records of an agent entry (no secrets involved, only names). */
function describeAgent(agent: AgentRecord): Record<string, unknown> {
  return {
    agent: agent.name,
    scope: agent.scopes.join(' '),
    max_ttl: agent.maxTtl,
    ...(agent.audiences ? { aud: agent.audiences } : {}),
    secrets: agent.grants.map((grant) => grant.secret),
    ...(agent.dpop ? { dpop: true } : {}),
  };
}

export async function addAgentCommand(ctx: Context, name: string, flags: AgentFlags): Promise<CommandResult> {
  const update = toUpdate(flags);
  const { config, result: agent } = await updateConfig(ctx.paths, (config) => addAgent(config, name, update, new Date()));
  await recordEvents(ctx, config, [{ kind: 'agent.add', actor: ctx.actor, data: describeAgent(agent) }]);
  return { data: { agent }, render: (style) => `${style.green('Added agent')} ${name}\n${renderAgent(agent, style)}` };
}

export async function listAgentsCommand(ctx: Context, opts: { names?: boolean }): Promise<CommandResult> {
  if (opts.names) {
    // For shell completion: never fail, never print anything but names.
    let names: string[] = [];
    try {
      names = Object.keys(readConfig(ctx.paths)?.agents ?? {});
    } catch {
      names = [];
    }
    return { data: { names }, render: () => names.join('\n') };
  }
  const agents = Object.values(loadConfig(ctx).agents).sort((a, b) => a.name.localeCompare(b.name));
  return { data: { agents }, render: (style) => renderAgentList(agents, style) };
}

export async function showAgentCommand(ctx: Context, name: string): Promise<CommandResult> {
  const agent = findAgent(loadConfig(ctx), name);
  return { data: { agent }, render: (style) => renderAgent(agent, style) };
}

export async function updateAgentCommand(ctx: Context, name: string, flags: AgentFlags): Promise<CommandResult> {
  const update = toUpdate(flags);
  const { config, result: agent } = await updateConfig(ctx.paths, (config) => updateAgent(config, name, update, new Date()));
  await recordEvents(ctx, config, [{ kind: 'agent.update', actor: ctx.actor, data: describeAgent(agent) }]);
  return { data: { agent }, render: (style) => `${style.green('Updated agent')} ${name}\n${renderAgent(agent, style)}` };
}

export async function removeAgentCommand(ctx: Context, name: string): Promise<CommandResult> {
  const { config } = await updateConfig(ctx.paths, (config) => removeAgent(config, name));
  await recordEvents(ctx, config, [{ kind: 'agent.remove', actor: ctx.actor, data: { agent: name } }]);
  return {
    data: { removed: name },
    render: (style) => `${style.green('Removed agent')} ${name} ${style.dim('(tokens already minted stay valid until they expire)')}`,
  };
}
