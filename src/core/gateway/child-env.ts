// The environment `run` gives its child (gateway.md, run step 3): placeholders
// instead of secrets, the gateway as proxy, our CA in every trust variable.
import type { Env } from '../paths.js';
import { CA_BUNDLE_VARS } from './trust.js';

export interface ChildEnvInput {
  /** The environment `run` itself got. */
  parent: Env;
  inherit: boolean;
  port: number;
  sessionToken: string;
  /** File holding only agentauth's CA certificate (NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** File holding system roots + the user's bundles + agentauth's CA. */
  bundleFile: string;
  /** The credential in base URLs (`/_/<run key>/<secret>`). */
  runKey: string;
  secrets: { name: string; placeholder: string; env?: string[]; baseUrlEnv?: string }[];
  /** Host names granted secrets are bound to: a loopback one among them must go through the gateway, not around it. */
  boundHosts?: string[];
  /** A file for Node's `--require` that routes fetch and http(s) through HTTPS_PROXY where Node itself does not (node-preload.ts). */
  nodePreload?: string;
}

const NO_PROXY_VALUE = 'localhost,127.0.0.1,::1';
/** Removed from the child: the keystore passphrase and backend are agentauth's alone. */
const REMOVED_VARS = ['AGENTAUTH_PASSPHRASE', 'AGENTAUTH_PASSPHRASE_FILE', 'AGENTAUTH_BACKEND'];
/**
 * Also removed: a catch-all proxy would take the traffic of protocols we do
 * not set a proxy for around the gateway (decision: not listed in gateway.md).
 */
const SHADOWING_VARS = ['ALL_PROXY'];
/** Kept with --no-inherit-env: what a program needs to find itself, its home and its terminal. */
const BASELINE_VARS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TERM', 'COLORTERM', 'LANG', 'TZ', 'TMPDIR', 'DISPLAY', 'WAYLAND_DISPLAY', 'SSH_AUTH_SOCK'];
const PROTECTED = (name: string) => name === 'PATH' || name === 'HOME' || name.startsWith('XDG_');

export function buildChildEnv(input: ChildEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.parent)) {
    if (value === undefined) continue;
    const keep = input.inherit || BASELINE_VARS.includes(name) || name.startsWith('LC_') || name.startsWith('XDG_');
    if (keep) env[name] = value;
  }
  const proxy = `http://agent:${input.sessionToken}@127.0.0.1:${input.port}`;
  const bound = new Set(input.boundHosts ?? []);
  const noProxy = NO_PROXY_VALUE.split(',').filter((host) => !bound.has(host)).join(',');
  const set: [string, string][] = [
    ['HTTPS_PROXY', proxy],
    ['https_proxy', proxy],
    ['HTTP_PROXY', proxy],
    ['http_proxy', proxy],
    ['NO_PROXY', noProxy],
    ['no_proxy', noProxy],
    ['NODE_USE_ENV_PROXY', '1'],
    ['NODE_EXTRA_CA_CERTS', input.caFile],
    ...CA_BUNDLE_VARS.map((name): [string, string] => [name, input.bundleFile]),
    ['GIT_HTTP_PROXY_AUTHMETHOD', 'basic'],
    ['GIT_TERMINAL_PROMPT', '0'],
  ];
  if (input.nodePreload !== undefined) set.push(['NODE_OPTIONS', appendNodeRequire(env['NODE_OPTIONS'], input.nodePreload)]);
  for (const secret of input.secrets) {
    for (const variable of secret.env ?? []) set.push([variable, secret.placeholder]);
    if (secret.baseUrlEnv) set.push([secret.baseUrlEnv, `http://127.0.0.1:${input.port}/_/${input.runKey}/${secret.name}`]);
  }
  // Inherited copies are replaced, never duplicated: drop every spelling of a
  // name we set (case-insensitively: Windows treats Https_Proxy as HTTPS_PROXY),
  // keeping only the exact spellings we write below.
  const ours = new Set(set.map(([name]) => name));
  const oursUpper = new Set(set.map(([name]) => name.toUpperCase()));
  const removedUpper = new Set([...REMOVED_VARS, ...SHADOWING_VARS].map((name) => name.toUpperCase()));
  for (const name of Object.keys(env)) {
    if (PROTECTED(name)) continue;
    const upper = name.toUpperCase();
    if (removedUpper.has(upper) || (oursUpper.has(upper) && !ours.has(name))) delete env[name];
  }
  for (const [name, value] of set) {
    if (PROTECTED(name)) continue;
    env[name] = value;
  }
  return env;
}

/**
 * The user's NODE_OPTIONS with `--require "<file>"` added (once: a `run`
 * inside a run's child finds it there already). NODE_OPTIONS splits on
 * spaces and honours double quotes with backslash escapes.
 */
export function appendNodeRequire(existing: string | undefined, file: string): string {
  const option = `--require "${file.replace(/["\\]/g, '\\$&')}"`;
  const current = (existing ?? '').trim();
  if (current.includes(option)) return current;
  return current === '' ? option : `${current} ${option}`;
}
