// A token or proof that did not pass a check. It carries one of the stable
// codes of tokens.md and never an exit code: the CLI maps it to exit 1, the
// library's middleware to a 401 or 403. Kept free of imports so that
// `agentauth/verify` can ship it to any JavaScript runtime.

export class VerifyError extends Error {
  /** Stable: `ERR_JWT_EXPIRED`, `ERR_SCOPE_MISSING`, `ERR_DPOP_REPLAY`, … (docs/tokens.md lists them all). */
  readonly code: string;
  /** The claim or proof member that failed, when one did (`aud`, `exp`, `htu`, …). */
  readonly claim: string | undefined;

  constructor(code: string, message: string, claim?: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerifyError';
    this.code = code;
    this.claim = claim;
  }
}

export function isVerifyError(value: unknown): value is VerifyError {
  return value instanceof VerifyError;
}
