// `agentauth run [--agent NAME] [--secret S…] [--deny-unlisted] [--no-inherit-env] [--upstream-ca FILE] -- CMD [ARGS…]`
//
// Like aws-vault's `exec`, in four steps, one file each:
//   start-gateway.ts  the agent, its secrets, a session token, the gateway on loopback
//   environment.ts    the child's environment: placeholders, proxy, CA bundles, Node preload
//   sandbox.ts        the child started, in a sandbox where the platform offers one (spawn-child.ts)
//   exit.ts           signals passed on; CMD's exit status (or signal) becomes ours
// records.ts holds what the audit log says about the run. Failures before
// CMD starts exit 125 (126 not executable, 127 not found), so they cannot be
// mistaken for CMD's own exit codes, and are logged as run.fail.
import { basename } from 'node:path';
import { asChildStartFailure, childStartError, isAgentAuthError, usageError, type AgentAuthError } from '../../core/errors.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { prepareChildEnvironment, type EnvironmentFlags } from './environment.js';
import { dieOfSignal, forwardSignals } from './exit.js';
import { childStartExitCode, runEndEvent, runFailEvent, runStartEvent } from './records.js';
import { decideSandbox, startSandboxProbe, type SandboxDecision, type SandboxFlags } from './sandbox.js';
import type { ChildOutcome, RunningChild } from './spawn-child.js';
import { startRunGateway, undoSteps, type GatewayFlags, type RunningGateway } from './start-gateway.js';

export interface RunFlags extends GatewayFlags, EnvironmentFlags, SandboxFlags {}

export { SESSION_TTL_SECONDS } from './start-gateway.js';

export async function runCommand(ctx: Context, command: string[], flags: RunFlags): Promise<CommandResult> {
  const [file, ...args] = command;
  if (!file) throw usageError('NO_COMMAND', 'no command to run', { hint: 'agentauth run [--agent NAME] -- CMD [ARGS…]' });
  // This process serves the child for as long as it runs: keep its heap
  // small from the start (see heap.ts), before set-up grows it.
  const { tuneHeapForLongRun } = await import('./heap.js');
  tuneHeapForLongRun(ctx.env);
  const probe = startSandboxProbe(ctx, flags);

  const run = await startRunGateway(ctx, flags, basename(file)).catch((error: unknown) => {
    throw asStartFailure(error);
  });
  const started = performance.now();
  let child: RunningChild;
  let sandbox: SandboxDecision['audit'];
  try {
    const { env, nodePreload } = prepareChildEnvironment(ctx, run, flags);
    const decision = await decideSandbox(ctx, run.config, flags, probe);
    if (nodePreload !== null && decision.hides(nodePreload)) {
      ctx.warn(`the sandbox hides agentauth's Node preload (${nodePreload}): Node children before 22.21 will not use the gateway for fetch and https; use base-URL mode (secret add … --base-url-env VAR) for them`);
    }
    sandbox = decision.audit;
    child = await decision.spawn(file, args, env);
  } catch (error) {
    const failure = asStartFailure(error);
    await undoSteps(run.cleanup);
    await run.audit.close([runFailEvent(run.id, { command: basename(file), exitCode: childStartExitCode(failure), code: failure.code, reason: failure.message })]).catch(() => {});
    throw failure;
  }
  run.audit.push(runStartEvent(run.id, { command: basename(file), secrets: run.secrets.map((secret) => secret.name), port: run.gateway.port, jti: run.session.initial.jti, sandbox }));

  const release = forwardSignals(ctx, child);
  const outcome = await child.ended;
  const ms = Math.round(performance.now() - started);
  const checkpointRefused = await endRun(ctx, run, outcome, ms, sandbox);
  release();
  return mapExit(outcome, checkpointRefused);
}

/** Takes the gateway down and writes run.end and a checkpoint; true when the checkpoint was refused (the log was rewritten under us). */
async function endRun(ctx: Context, run: RunningGateway, outcome: ChildOutcome, ms: number, sandbox: SandboxDecision['audit']): Promise<boolean> {
  await undoSteps(run.cleanup);
  const { stats } = run.gateway;
  try {
    await run.audit.close([runEndEvent(run.id, { jti: run.session.current().jti, outcome, ms, requests: stats.requests, denied: stats.denied, unauthenticated: stats.unauthenticated, sandbox: sandbox.sandbox })]);
    return false;
  } catch (error) {
    // The log could not be vouched for (a process rewrote it): no checkpoint was signed (audit-log.md, "Writers").
    if (isAgentAuthError(error) && error.code === 'AUDIT_CHECKPOINT_REFUSED') {
      ctx.stderr.write(`${ctx.stderrStyle.red('error:')} ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
      return true;
    }
    ctx.warn(`could not write run.end to the audit log (${(error as Error).message})`);
    return false;
  }
}

async function mapExit(outcome: ChildOutcome, checkpointRefused: boolean): Promise<CommandResult> {
  if (outcome.signal) return { data: { signal: outcome.signal }, outcome: { childExitCode: await dieOfSignal(outcome.signal) } };
  const exitCode = outcome.code ?? 0;
  return { data: { exitCode, ...(checkpointRefused ? { checkpointRefused } : {}) }, outcome: exitCode === 0 && checkpointRefused ? 'checkFailed' : { childExitCode: exitCode } };
}

/** Every failure before CMD starts is a start failure (125, keeping its code and message), except not executable (126) and not found (127). */
function asStartFailure(error: unknown): AgentAuthError {
  if (isAgentAuthError(error)) return error.kind === 'childNotFound' || error.kind === 'childNotExecutable' ? error : asChildStartFailure(error);
  return childStartError('RUN_CANNOT_START', `agentauth run could not start: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
