// Expected failures are typed: a `kind` (what went wrong, in the user's terms)
// and a stable `code` for scripts and tests. The code decides the kind, from
// the one list below; src/main.ts alone turns kinds into exit statuses (the
// table in README.md). Nothing here knows an exit number.

export type ErrorKind = 'checkFailed' | 'usage' | 'notFound' | 'keystore' | 'policy' | 'internal' | 'childStart' | 'childNotExecutable' | 'childNotFound';

/**
 * Every error code, under its kind. A code belongs to exactly one kind (a test
 * checks it), so `--json` readers can rely on the pair. The ERR_* codes are the
 * verifier's (docs/tokens.md) where the CLI reports them as bad input.
 */
export const ERROR_CODES = {
  checkFailed: [
    'AUDIT_CHECKPOINT_REFUSED', 'AUDIT_NOT_VERIFIED', 'AUDIT_ROTATE_FAILED',
    'AUDIT_TAIL_NOT_CHECKPOINT',
  ],
  usage: [
    'ACTIVE_KEY', 'AGENT_EXISTS', 'AGENT_REQUIRED', 'ALREADY_INITIALISED', 'AUDIENCE_REQUIRED',
    'AUDIT_ORIGIN_MISMATCH', 'AUDIT_SEGMENT_SEALED', 'BACKUP_EXISTS', 'BAD_ALG', 'BAD_AUDIENCE',
    'BAD_BACKEND', 'BAD_BASE_URL', 'BAD_DPOP_JKT', 'BAD_DURATION', 'BAD_ENV_NAME', 'BAD_FORMAT',
    'BAD_GRANT', 'BAD_HEADER', 'BAD_HOST', 'BAD_INPUT', 'BAD_ISSUER', 'BAD_JWKS', 'BAD_LISTEN',
    'BAD_LOG_ORIGIN', 'BAD_METHOD', 'BAD_NAME', 'BAD_NUMBER', 'BAD_PATH', 'BAD_PLACEMENT', 'BAD_PROOF',
    'BAD_PROVE_ARGS', 'BAD_QUERY', 'BAD_RANGE', 'BAD_REQUEST', 'BAD_ROOT', 'BAD_SCOPE',
    'BAD_SECRET_VALUE', 'BAD_SEQ', 'BAD_SETTING', 'BAD_SHELL', 'BAD_SIZE', 'BAD_THREADS', 'BAD_TIME',
    'BAD_UPSTREAM_CA', 'BAD_USER', 'BAD_VKEY', 'CANNOT_UNSET', 'CANNOT_WRITE', 'CONFIG_CHANGED',
    'CONFIRMATION_REQUIRED', 'DPOP_FLAGS', 'DPOP_KEY_AND_JKT', 'ENV_TAKEN', 'ERR_DPOP_BAD_REQUEST',
    'ERR_DPOP_KEY_INVALID', 'ERR_JWS_INVALID', 'FILE_EXISTS', 'INSTALL_STILL_IN_KEYCHAIN',
    'LISTEN_FAILED', 'NOT_A_BACKUP', 'NOT_CONFIRMED', 'NO_COMMAND', 'NO_HOME', 'NO_HOST',
    'NO_PASSPHRASE', 'NO_SCOPE', 'NO_TOKEN', 'NO_VALUE', 'REQUEST_TOO_LARGE', 'RESERVED_ENV_NAME',
    'SAME_BACKEND', 'SCOPE_REQUIRED', 'SECRET_EXISTS', 'SECRET_TOO_LONG', 'SECRET_TOO_SHORT',
    'SERVE_RUNNING', 'SOCKET_FOLDER', 'SOCKET_PATH_TAKEN', 'SOCKET_PATH_TOO_LONG', 'STDIN_CONFLICT',
    'STDIN_IS_TERMINAL', 'UNKNOWN_PRESET', 'UNKNOWN_SCOPE', 'UNKNOWN_SETTING', 
    'USER_FILE_UNREADABLE', 'VALUE_REQUIRED', 'VKEY_REQUIRED', 'WEAK_PASSPHRASE',
  ],
  notFound: [
    'AUDIT_LOG_MISSING', 'AUDIT_NO_CHECKPOINT', 'NOT_INITIALISED', 'NO_ACTIVE_KEY',
    'NO_AGENT', 'NO_AUDIT_LOG', 'NO_CHECKPOINT', 'NO_DPOP_KEY', 'NO_SUCH_AGENT',
    'NO_SUCH_CHECKPOINT', 'NO_SUCH_EVENT', 'NO_SUCH_GRANT', 'UNKNOWN_AGENT',
    'UNKNOWN_KID', 'UNKNOWN_SECRET', 'USER_FILE_NOT_FOUND',
  ],
  keystore: [
    'AUDIT_ROTATE_NEEDS_KEY', 'BACKUP_DAMAGED', 'BAD_LOG_KEY', 'CANCELLED',
    'CORRUPT_CONFIG', 'CORRUPT_KEYSTORE', 'CORRUPT_VAULT', 'EMPTY_PASSPHRASE', 'INSECURE_OWNER',
    'INSECURE_PERMISSIONS', 'KEYCHAIN_UNAVAILABLE', 'KEYSTORE_EXISTS', 'KEY_MISSING', 'LOCK_TIMEOUT',
    'MIGRATE_VERIFY_FAILED', 'NOT_A_DIRECTORY', 'NOT_A_FILE', 'NO_BACKEND', 'NO_KEYSTORE',
    'NO_VAULT_KEY', 'PASSPHRASE_FILE_UNREADABLE', 'PASSPHRASE_MISMATCH', 'PASSPHRASE_REQUIRED',
    'RESTORE_VERIFY_FAILED', 'SECRET_VALUE_MISSING', 'SERVE_LOCKED', 'SERVE_NO_ANSWER',
    'SERVE_READ_ONLY', 'SOCKET_FOLDER_NOT_OURS', 'SYMLINK_REFUSED', 'UNREADABLE_FILE',
    'VAULT_DECRYPT_FAILED', 'WRONG_BACKUP_PASSPHRASE', 'WRONG_PASSPHRASE',
  ],
  policy: [
    'AUDIENCE_NOT_ALLOWED', 'DPOP_REQUIRED', 'GRANT_WIDENS', 'SCOPE_NOT_ALLOWED', 'SECRET_NOT_GRANTED',
    'TTL_NOT_ALLOWED',
  ],
  internal: [
    'BAD_AUDIT_EVENT', 'INTERNAL', 'SERVE_BAD_ANSWER',
  ],
  childStart: [
    'RUN_CANNOT_START', 'SANDBOX_BAD_PATH', 'SANDBOX_HIDES_CWD', 'SANDBOX_INCOMPLETE',
    'SANDBOX_UNAVAILABLE',
  ],
  childNotExecutable: [
    'COMMAND_NOT_EXECUTABLE',
  ],
  childNotFound: [
    'COMMAND_NOT_FOUND',
  ],
} as const satisfies Record<ErrorKind, readonly string[]>;

export type CodeOf<K extends ErrorKind> = (typeof ERROR_CODES)[K][number];
export type ErrorCode = CodeOf<ErrorKind>;

const KIND_OF: ReadonlyMap<string, ErrorKind> = new Map(
  (Object.entries(ERROR_CODES) as [ErrorKind, readonly string[]][]).flatMap(([kind, codes]) => codes.map((code) => [code, kind] as const)),
);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KIND_OF.has(value);
}

export function kindOf(code: ErrorCode): ErrorKind {
  return KIND_OF.get(code)!;
}

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
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}, kind: ErrorKind = kindOf(code)) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentAuthError';
    this.code = code;
    this.kind = kind;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export function usageError(code: CodeOf<'usage'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

export function notFoundError(code: CodeOf<'notFound'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

export function keystoreError(code: CodeOf<'keystore'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

export function policyError(code: CodeOf<'policy'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

export function checkFailedError(code: CodeOf<'checkFailed'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

export function internalError(code: CodeOf<'internal'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

/** `run` could not start the child: the sandbox, the command's path, or an earlier step (see asChildStartFailure). */
export function childStartError(code: CodeOf<'childStart' | 'childNotExecutable' | 'childNotFound'>, message: string, options?: ErrorOptions): AgentAuthError {
  return new AgentAuthError(code, message, options);
}

/**
 * The same error, reported as `run` failing to start its child (gateway.md:
 * every failure before the command starts is 125, keeping its code and message).
 */
export function asChildStartFailure(error: AgentAuthError): AgentAuthError {
  if (error.kind === 'childStart') return error;
  const options: ErrorOptions = { cause: error, ...(error.hint ? { hint: error.hint } : {}), ...(error.details ? { details: error.details } : {}) };
  return new AgentAuthError(error.code, error.message, options, 'childStart');
}

export function isAgentAuthError(value: unknown): value is AgentAuthError {
  return value instanceof AgentAuthError || (typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true);
}

/**
 * A verifier's error (docs/tokens.md) about input the user gave, such as a
 * damaged DPoP key file: a usage error, keeping the verifier's code when the
 * list above has it as one.
 */
export function usageErrorFromVerify(error: { code: string; message: string }, message = error.message): AgentAuthError {
  const code: CodeOf<'usage'> = isErrorCode(error.code) && kindOf(error.code) === 'usage' ? (error.code as CodeOf<'usage'>) : 'BAD_INPUT';
  return usageError(code, message, { cause: error });
}
