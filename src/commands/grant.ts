// `grant AGENT SECRET [--method …] [--path …] [--revoke]`: a grant narrows a
// secret's binding for one agent, never widens it (exit 5).
import { updateConfig } from '../core/config.js';
import { findAgent } from '../core/agents.js';
import { usageError, notFoundError } from '../core/errors.js';
import { applyGrant, assertAgentVariablesDistinct, buildGrant, findSecret } from '../core/secrets.js';
import { renderGrant } from '../ui/render-gateway.js';
import { recordEvents } from './audit-events.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

export interface GrantFlags {
  method?: string[];
  path?: string[];
  revoke?: boolean;
}

export async function grantCommand(ctx: Context, agentName: string, secretName: string, flags: GrantFlags): Promise<CommandResult> {
  if (flags.revoke && (flags.method || flags.path)) throw usageError('BAD_GRANT', '--revoke takes no --method or --path');
  const now = new Date();
  const { config, result } = await updateConfig(ctx.paths, (config) => {
    const agent = findAgent(config, agentName);
    const secret = findSecret(config, secretName);
    if (flags.revoke) {
      const before = agent.grants.length;
      agent.grants = agent.grants.filter((grant) => grant.secret !== secret.name);
      if (agent.grants.length === before) {
        throw notFoundError('NO_SUCH_GRANT', `agent "${agent.name}" holds no grant of "${secret.name}"`);
      }
      agent.updatedAt = now.toISOString();
      return null;
    }
    const grant = buildGrant(secret, { ...(flags.method ? { methods: flags.method } : {}), ...(flags.path ? { paths: flags.path } : {}) });
    applyGrant(agent, grant, now);
    assertAgentVariablesDistinct(config, agent);
    return grant;
  });
  await recordEvents(ctx, config, [
    {
      kind: result ? 'secret.grant' : 'secret.revoke',
      actor: ctx.actor,
      data: { agent: agentName, secret: secretName, ...(result?.methods ? { methods: result.methods } : {}), ...(result?.paths ? { paths: result.paths } : {}) },
    },
  ]);
  if (!result) return { data: { agent: agentName, secret: secretName, revoked: true }, render: (style) => `${style.green('Revoked')} ${agentName}'s grant of ${secretName}` };
  return { data: { agent: agentName, grant: result }, render: (style) => renderGrant(agentName, result, style) };
}
