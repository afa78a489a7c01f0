// One request through the gateway, from the moment it is authenticated to its
// audit event: who sent it, where it goes, which secret it used, what was
// decided, how many bytes moved and how long it took. Each phase gets the
// Exchange explicitly and ends it with deny(), fail() or finish(), which
// write its one audit event.
import type { Scheme } from '../secrets.js';
import type { RunSecret } from './policy.js';
import { describeUpstreamFailure, sendProblem, type ProblemReason, type ReplyTarget } from './replies.js';
import type { GatewayEvent, GatewayRuntime, Principal } from './runtime.js';
import { formatAuthority } from './targets.js';

/** Where a request goes and how it arrived. */
export interface Route {
  scheme: Scheme;
  /** Canonical host name (targets.ts). */
  host: string;
  port: number;
  principal: Principal;
  /** How the child reached the gateway: a terminated CONNECT tunnel, absolute-form, or a base URL. */
  via: 'tunnel' | 'absolute' | 'base-url';
  /** For base-URL mode: the secret the URL names. */
  baseUrlSecret?: RunSecret;
  /** Some granted secret is bound to this scheme, host and port: its answers are decoded and scrubbed. */
  bound: boolean;
}

type Outcome = GatewayEvent['data']['decision'];

export class Exchange {
  readonly started = performance.now();
  /** The request path without its query, as the audit event shows it. */
  path = '';
  /** The secrets swapped into this request, comma-separated; null when none. */
  secret: string | null = null;
  bytesIn = 0;
  bytesOut = 0;
  finished = false;

  constructor(
    readonly gateway: GatewayRuntime,
    readonly route: Route,
    readonly method: string,
    readonly reply: ReplyTarget,
  ) {}

  get authority(): string {
    return formatAuthority(this.route.host, this.route.port);
  }

  /** Refuses the request with a problem document: nothing reaches the upstream. */
  deny(status: number, reason: ProblemReason, detail: string, secret: string | null = this.secret): void {
    this.secret = secret;
    this.finish('deny', status, reason);
    sendProblem(this.reply, status, reason, detail);
  }

  /**
   * The gateway or the upstream failed: a 502 problem document (or a cut
   * connection once the answer has begun). Nothing once the exchange has
   * its outcome: aborting an upstream reports one more failure.
   */
  fail(reason: ProblemReason, detail: string): void {
    if (this.finished) return;
    this.finish('error', 502, reason);
    sendProblem(this.reply, 502, reason, detail);
  }

  /** The upstream failed before its answer began. */
  failUpstream(error: NodeJS.ErrnoException): void {
    const { reason, detail } = describeUpstreamFailure(error, this.authority);
    this.fail(reason, detail);
  }

  /** Writes the audit event; later calls do nothing (a request has one outcome). */
  finish(outcome: Outcome, status: number, reason?: string): void {
    if (this.finished) return;
    this.finished = true;
    const { stats, options } = this.gateway;
    const denied = outcome === 'deny';
    stats.requests += 1;
    if (denied) stats.denied += 1;
    try {
      // Keys in canonical (sorted) order: the audit writer then serialises with one JSON.stringify.
      options.onEvent({
        kind: denied ? 'gateway.deny' : 'gateway.request',
        actor: { jti: this.route.principal.jti, sub: `agent:${options.agent}` },
        data: {
          agent: options.agent,
          bytes_in: this.bytesIn,
          bytes_out: this.bytesOut,
          decision: outcome,
          host: this.route.host,
          method: this.method,
          ms: Math.round(performance.now() - this.started),
          path: this.path,
          // The host is the name a --host filter matches; the port tells two services on one host apart.
          ...(this.route.port > 0 ? { port: this.route.port } : {}),
          ...(reason ? { reason } : {}),
          secret: this.secret,
          status,
        },
      });
    } catch {
      // The audit sink reports its own failures; a request is not failed for it.
    }
  }
}
