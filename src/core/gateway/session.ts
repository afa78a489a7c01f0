// The run's session: the token the child presents as its proxy credential.
//
// The child's environment is fixed when it starts, so it keeps presenting the
// first token for the whole run. The session is renewed at half-life anyway:
// a new token (new jti, audited as token.mint) is minted, and gateway events
// name the CURRENT jti, so the log never shows traffic under an expired token.
// A token of this session's chain is accepted as long as the run (and thus
// the chain) is alive. Any other token must verify on its own: issuer key,
// this gateway's audience, this agent, not expired.
import type { Principal } from './runtime.js';

export interface MintedSessionToken {
  token: string;
  jti: string;
  iat: number;
  exp: number;
}

export interface VerifiedSessionToken {
  jti: string;
  sub: string;
  exp: number;
}

export interface SessionOptions<T extends MintedSessionToken> {
  agent: string;
  mint(): Promise<T>;
  /** Verifies a token that is not from this session's chain (signature, aud, typ); throws when invalid. */
  verify(token: string): Promise<VerifiedSessionToken>;
  /** Called after each renewal (audit it). */
  onRenew(minted: T): void;
  onError(error: unknown): void;
  nowSeconds?: () => number;
}

export interface Session<T extends MintedSessionToken = MintedSessionToken> {
  /** The token placed in the child's proxy URLs. */
  readonly initial: T;
  current(): T;
  readonly principal: Principal;
  authenticate(token: string): Principal | null | Promise<Principal | null>;
  stop(): void;
}

const MAX_CACHED = 256;

export async function startSession<T extends MintedSessionToken>(options: SessionOptions<T>): Promise<Session<T>> {
  const now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const initial = await options.mint();
  let current = initial;
  const chain = new Set<string>([initial.token]);
  const verified = new Map<string, VerifiedSessionToken | null>();
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const principal: Principal = {
    get jti() {
      return current.jti;
    },
  };

  const schedule = () => {
    if (stopped) return;
    const delayMs = Math.max(1000, ((current.exp - current.iat) / 2) * 1000 - (now() - current.iat) * 1000);
    timer = setTimeout(() => void renew(), delayMs);
    // The renewal alone must not keep `run` alive after the child is gone.
    timer.unref();
  };
  const renew = async () => {
    try {
      const next = await options.mint();
      if (stopped) return;
      current = next;
      chain.add(next.token);
      options.onRenew(next);
    } catch (error) {
      options.onError(error);
    }
    schedule();
  };
  schedule();

  const accept = (entry: VerifiedSessionToken | null): Principal | null => {
    if (!entry || entry.exp <= now()) return null;
    return { jti: entry.jti };
  };

  return {
    initial,
    current: () => current,
    principal,
    authenticate(token) {
      if (chain.has(token)) return principal;
      if (verified.has(token)) return accept(verified.get(token)!);
      return options.verify(token).then(
        (entry) => {
          const ok = entry.sub === `agent:${options.agent}` ? entry : null;
          if (verified.size >= MAX_CACHED) verified.clear();
          verified.set(token, ok);
          return accept(ok);
        },
        () => {
          if (verified.size >= MAX_CACHED) verified.clear();
          verified.set(token, null);
          return null;
        },
      );
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
