// What `run` writes to the audit log about itself (gateway.md, run step 5).
// Every event of one run names it by its run id (`run`): run.start and
// run.end pair by it, and so do the session's token.mint events, renewals
// included, so that `audit replay` knows which run (and which grants) a
// renewed session token belongs to.
import type { AuditEventInput } from '../../core/audit/event.js';
import type { AgentAuthError } from '../../core/errors.js';
import type { SandboxDecision } from './sandbox.js';

export interface RunIdentity {
  run: string;
  agent: string;
  actor: { sub: string };
}

export function sessionMintEvent(id: RunIdentity, minted: { jti: string; kid: string; exp: number; aud: string; scope: string[] }): AuditEventInput {
  return {
    kind: 'token.mint',
    actor: id.actor,
    data: { agent: id.agent, aud: minted.aud, scope: minted.scope.join(' '), jti: minted.jti, kid: minted.kid, exp: minted.exp, purpose: 'gateway-session', run: id.run },
  };
}

export function runStartEvent(id: RunIdentity, details: { command: string; secrets: string[]; port: number; jti: string; sandbox: SandboxDecision['audit'] }): AuditEventInput {
  return {
    kind: 'run.start',
    actor: id.actor,
    data: { run: id.run, agent: id.agent, command: details.command, secrets: details.secrets, port: details.port, jti: details.jti, ...details.sandbox },
  };
}

export interface RunTotals {
  jti: string;
  outcome: { code: number | null; signal: NodeJS.Signals | null };
  ms: number;
  requests: number;
  denied: number;
  unauthenticated: number;
  sandbox: SandboxDecision['audit']['sandbox'];
}

export function runEndEvent(id: RunIdentity, totals: RunTotals): AuditEventInput {
  return {
    kind: 'run.end',
    actor: id.actor,
    data: {
      run: id.run,
      agent: id.agent,
      jti: totals.jti,
      ...(totals.outcome.signal ? { signal: totals.outcome.signal } : { exit_code: totals.outcome.code ?? 0 }),
      ms: totals.ms,
      requests: totals.requests,
      denied: totals.denied,
      unauthenticated: totals.unauthenticated,
      sandbox: totals.sandbox,
    },
  };
}

/**
 * The exit status a start failure gives (gateway.md, run step 4), for the
 * log: the same numbers src/main.ts maps these kinds to (a unit test holds
 * the two together; commands cannot import main.ts).
 */
export function childStartExitCode(error: AgentAuthError): number {
  if (error.kind === 'childNotFound') return 127;
  if (error.kind === 'childNotExecutable') return 126;
  return 125;
}

/** The child never started: instead of run.start and run.end, one run.fail with the exit status `run` gives and why. */
export function runFailEvent(id: RunIdentity, details: { command: string; exitCode: number; code: string; reason: string }): AuditEventInput {
  return {
    kind: 'run.fail',
    actor: id.actor,
    data: { run: id.run, agent: id.agent, command: details.command, exit_code: details.exitCode, code: details.code, reason: details.reason },
  };
}
