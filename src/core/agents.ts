// The agent registry: what each named agent may ever hold.
import type { AgentRecord, Config } from './config.js';
import { notFoundError, usageError } from './errors.js';
import { validateName } from './names.js';
import { validateScope } from './scopes.js';
import { assertAgentVariablesDistinct, resolveSecretGrants } from './secrets.js';

const DEFAULT_MAX_TTL_SECONDS = 3600;
/** A week: longer-lived tokens defeat the point of short-lived ones. */
const LIMIT_MAX_TTL_SECONDS = 7 * 86_400;

export interface AgentInput {
  scopes?: string[];
  maxTtl?: number;
  audiences?: string[];
  description?: string;
  secrets?: string[];
  /** Require DPoP-bound tokens (cnf.jkt). */
  dpop?: boolean;
}

export function findAgent(config: Config, name: string): AgentRecord {
  validateName(name, 'agent');
  const agent = config.agents[name];
  if (!agent) {
    const known = Object.keys(config.agents);
    throw notFoundError('UNKNOWN_AGENT', `no agent named "${name}"`, {
      hint: known.length ? `known agents: ${known.join(', ')}` : `add one with: agentauth agent add ${name} --scope …`,
    });
  }
  return agent;
}

function normaliseScopes(scopes: string[]): string[] {
  const list = [...new Set(scopes.map(validateScope))];
  if (list.length === 0) throw usageError('NO_SCOPE', 'an agent needs at least one --scope');
  return list;
}

function validateMaxTtl(seconds: number): number {
  if (seconds > LIMIT_MAX_TTL_SECONDS) throw usageError('BAD_DURATION', `--max-ttl may be at most 7d`);
  return seconds;
}

function validateAudiences(audiences: string[]): string[] {
  for (const aud of audiences) {
    if (aud.trim() === '' || /\s/.test(aud)) throw usageError('BAD_AUDIENCE', `invalid audience ${JSON.stringify(aud)}`);
  }
  return [...new Set(audiences)];
}

export function addAgent(config: Config, name: string, input: AgentInput, now: Date): AgentRecord {
  validateName(name, 'agent');
  if (config.agents[name]) throw usageError('AGENT_EXISTS', `agent "${name}" already exists`, { hint: `change it with: agentauth agent update ${name} …` });
  const agent: AgentRecord = {
    name,
    scopes: normaliseScopes(input.scopes ?? []),
    maxTtl: validateMaxTtl(input.maxTtl ?? DEFAULT_MAX_TTL_SECONDS),
    ...(input.audiences ? { audiences: validateAudiences(input.audiences) } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.dpop ? { dpop: true } : {}),
    grants: resolveSecretGrants(config, input.secrets ?? []),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  assertAgentVariablesDistinct(config, agent);
  config.agents[name] = agent;
  return agent;
}

export interface AgentUpdate extends AgentInput {
  addScopes?: string[];
  removeScopes?: string[];
}

export function updateAgent(config: Config, name: string, update: AgentUpdate, now: Date): AgentRecord {
  const agent = findAgent(config, name);
  let scopes = update.scopes ? [...update.scopes] : [...agent.scopes];
  if (update.addScopes) scopes.push(...update.addScopes);
  if (update.removeScopes) {
    const unknown = update.removeScopes.filter((scope) => !scopes.includes(scope));
    if (unknown.length) throw usageError('UNKNOWN_SCOPE', `agent "${name}" has no scope ${unknown.join(', ')}`);
    scopes = scopes.filter((scope) => !update.removeScopes!.includes(scope));
  }
  agent.scopes = normaliseScopes(scopes);
  if (update.maxTtl !== undefined) agent.maxTtl = validateMaxTtl(update.maxTtl);
  if (update.audiences !== undefined) agent.audiences = validateAudiences(update.audiences);
  if (update.description !== undefined) agent.description = update.description;
  if (update.dpop === true) agent.dpop = true;
  if (update.dpop === false) delete agent.dpop;
  if (update.secrets !== undefined) {
    const existing = new Set(agent.grants.map((grant) => grant.secret));
    agent.grants.push(...resolveSecretGrants(config, update.secrets).filter((grant) => !existing.has(grant.secret)));
    assertAgentVariablesDistinct(config, agent);
  }
  agent.updatedAt = now.toISOString();
  return agent;
}

export function removeAgent(config: Config, name: string): AgentRecord {
  const agent = findAgent(config, name);
  delete config.agents[name];
  return agent;
}
