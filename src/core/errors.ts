// Expected failures are typed: a stable `code` for scripts and tests, and an
// exit status from the table in cli.md. Only src/main.ts turns them into exits.

export const ExitCode = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  notFound: 3,
  keystore: 4,
  policy: 5,
  internal: 70,
  runCannotStart: 125,
  runNotExecutable: 126,
  runNotFound: 127,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

// dist/main.cjs and the command tree are separate bundles, each with its own copy
// of this class: errors are recognised by this brand, which is the same in both.
const BRAND = Symbol.for('agentauth.AgentAuthError');

export class AgentAuthError extends Error {
  readonly [BRAND] = true;
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, exitCode: ExitCodeValue, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentAuthError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export function usageError(code: string, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, ExitCode.usage, message, options);
}

export function notFoundError(code: string, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, ExitCode.notFound, message, options);
}

export function keystoreError(code: string, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, ExitCode.keystore, message, options);
}

export function policyError(code: string, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, ExitCode.policy, message, options);
}

export function checkFailedError(code: string, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, ExitCode.checkFailed, message, options);
}

export function isAgentAuthError(value: unknown): value is AgentAuthError {
  return value instanceof AgentAuthError || (typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true);
}
