// What every phase of the gateway shares for the life of one run: its
// options, counters, the scrub rules of all granted secrets, the upstream
// connection pool, the open sockets, and its own address.
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type UndiciAgent from 'undici/lib/dispatcher/agent.js';
import { policyBindsHost, type Scheme } from '../secrets.js';
import type { RunSecret } from './policy.js';
import type { ScrubRule } from './scrub.js';

export interface Principal {
  /** The session jti the audit log attributes traffic to (read per event: renewals change it). */
  readonly jti: string;
}

export interface GatewayEvent {
  kind: 'gateway.request' | 'gateway.deny';
  actor: { sub: string; jti: string };
  data: {
    agent: string;
    method: string;
    host: string;
    port?: number;
    path: string;
    secret: string | null;
    decision: 'allow' | 'deny' | 'tunnel' | 'error';
    reason?: string;
    status: number;
    ms: number;
    bytes_in: number;
    bytes_out: number;
  };
}

export interface GatewayOptions {
  agent: string;
  secrets: RunSecret[];
  /** Checks a proxy credential (the session token); null = 407. */
  authenticate(token: string): Principal | null | Promise<Principal | null>;
  /** Whom base-URL requests (authenticated by the run key) are attributed to: the run's session. */
  baseUrlPrincipal: Principal;
  /** The base-URL key for this run; by default 192 fresh random bits. */
  runKey?: string;
  /** TLS context (leaf certificate) for a host we terminate. */
  contextForHost(host: string): Promise<SecureContext>;
  /** Trust for upstream TLS: system roots plus --upstream-ca. */
  upstreamContext: SecureContext;
  denyUnlisted: boolean;
  onEvent(event: GatewayEvent): void;
  host?: string;
  port?: number;
}

export interface GatewayStats {
  requests: number;
  denied: number;
  /** Requests and CONNECTs refused before authentication: counted, never logged one by one. */
  unauthenticated: number;
}

export interface GatewayRuntime {
  readonly options: GatewayOptions;
  readonly stats: GatewayStats;
  /** Every granted secret's value in every encoding the scrubber knows, longest first. */
  readonly scrubRules: ScrubRule[];
  readonly dispatcher: UndiciAgent;
  readonly runKey: string;
  /** Keeps a socket to destroy on close. */
  track(socket: Socket | TLSSocket): void;
  /** Set once listening. */
  ownPort: number;
  readonly listenHost: string;
}

/** Whether a granted secret is bound to this scheme, host and port: then its answers are decoded and scrubbed. */
export function isBound(runtime: GatewayRuntime, scheme: Scheme, host: string, port: number): boolean {
  return runtime.options.secrets.some((secret) => policyBindsHost(secret.policy, scheme, host, port));
}

const SELF_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::']);

export function isSelf(runtime: GatewayRuntime, host: string, port: number): boolean {
  return port === runtime.ownPort && (SELF_NAMES.has(host) || host === runtime.listenHost);
}
