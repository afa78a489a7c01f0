// Requests on the mint socket: `{"op":"mint",…}` and `{"op":"ping"}`. A
// request is checked for shape here; everything else (the agent's policy,
// the audit event) is the one mint of src/core/mint.ts.
import { internalError, isAgentAuthError, usageError, type AgentAuthError } from '../errors.js';
import type { MintAnswer, MintCall } from '../mint.js';
import type { LineHandler } from './line-socket.js';

export interface MintHandlerDeps {
  mint(call: MintCall): Promise<MintAnswer>;
  ping(): Record<string, unknown>;
  /** A failure that is not a refusal (a bug, a disk error): for the log. */
  onFailure(error: unknown, call: MintCall | null): void;
  /** The `{"ok":false,…}` answer for a refused request (refusalAnswer, with the exit status the CLI gives). */
  refuse(error: AgentAuthError): Record<string, unknown>;
}

/** The refusal on the wire (docs/serve.md): the exit status is the one a direct `token mint` would give. */
export function refusalAnswer(error: AgentAuthError, exit: number): Record<string, unknown> {
  return {
    ok: false,
    code: error.code,
    exit,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
    ...(error.details ? { details: error.details } : {}),
  };
}

export function createMintHandler(deps: MintHandlerDeps): LineHandler {
  return async (request) => {
    let call: MintCall | null = null;
    try {
      const op = isObject(request) ? request['op'] : undefined;
      if (op === 'ping') return { ok: true, ...deps.ping() };
      if (op !== 'mint') throw usageError('BAD_REQUEST', `unknown op ${JSON.stringify(op)}: use "mint" or "ping"`);
      call = parseMintCall(request as Record<string, unknown>);
      return { ok: true, ...(await deps.mint(call)) };
    } catch (error) {
      const known = isAgentAuthError(error);
      if (!known || error.kind === 'internal' || error.kind === 'keystore') deps.onFailure(error, call);
      return deps.refuse(known ? error : internalError('INTERNAL', 'internal error in agentauth serve (see its log)'));
    }
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseMintCall(request: Record<string, unknown>): MintCall {
  const text = (name: string, required: boolean): string | undefined => {
    const value = request[name];
    if (value === undefined && !required) return undefined;
    if (typeof value !== 'string') throw usageError('BAD_REQUEST', `"${name}" must be a string`);
    return value;
  };
  const scope = request['scope'];
  if (scope !== undefined && !(Array.isArray(scope) && scope.every((item) => typeof item === 'string'))) {
    throw usageError('BAD_REQUEST', '"scope" must be an array of strings');
  }
  const ttl = request['ttl'];
  if (ttl !== undefined && typeof ttl !== 'string' && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl > 0)) {
    throw usageError('BAD_REQUEST', '"ttl" must be a duration ("15m") or a positive whole number of seconds');
  }
  const onBehalfOf = text('onBehalfOf', false);
  const dpopJkt = text('dpopJkt', false);
  // "aud" may be left out when the agent allows exactly one audience (as with token mint).
  const aud = text('aud', false);
  return {
    agent: text('agent', true)!,
    ...(aud !== undefined ? { aud } : {}),
    ...(scope !== undefined ? { scopes: scope as string[] } : {}),
    ...(ttl !== undefined ? { ttl: ttl as string | number } : {}),
    ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
    ...(dpopJkt !== undefined ? { dpopJkt } : {}),
  };
}
