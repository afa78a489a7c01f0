// Secrets' bindings (which host, path, methods and header or query parameter a
// value may travel in) and agents' grants, which can only narrow a binding.
// Pure: no I/O. The values themselves live in the vault (vault.ts).
import { isUtf8 } from 'node:buffer';
import { isIP } from 'node:net';
import type { AgentRecord, Config, GrantRecord, Placement, SecretRecord } from './config.js';
import { notFoundError, policyError, usageError } from './errors.js';
import { validateName } from './names.js';

const DEFAULT_PORT = 443;
export const FORMAT_SLOT = '{}';
/**
 * Shorter values cannot be scrubbed from responses without mangling them
 * (every occurrence of a 3-letter value would be replaced), so they are refused.
 */
const MIN_VALUE_BYTES = 8;
const MAX_VALUE_BYTES = 16 * 1024;

const BASIC_PREFIX = 'basic:';
const MAX_PLACEMENTS = 16;

/**
 * What `secret add` takes. `headers` are `NAME[:FORMAT]` as on the command
 * line; `format` (the older `--format`) applies to those without their own.
 */
export interface SecretInput {
  hosts: string[];
  path?: string;
  methods?: string[];
  headers?: string[];
  format?: string;
  queries?: string[];
  env?: string[];
  baseUrlEnv?: string;
  preset?: string;
}

/** A binding's scheme: the real value goes over TLS unless a binding spells out `http://`. */
export type Scheme = 'http' | 'https';

/**
 * A parsed `--host`: `api.example.com`, `*.example.com`, `host:8443`,
 * `127.0.0.2:8443`, `[::1]:8443` (all https), or `http://localhost:11434`.
 */
export interface HostPattern {
  scheme: Scheme;
  /** Lowercase host without brackets; for a wildcard, the part after `*.`. */
  host: string;
  wildcard: boolean;
  port: number;
}

const DEFAULT_PORTS: Record<Scheme, number> = { https: DEFAULT_PORT, http: 80 };
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKEN_CHARS = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const METHOD = /^[A-Z]{1,20}$/;
// Headers agentauth owns or that change how a message is framed: a secret in
// one of them would break the proxy or let a value escape the declared place.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'keep-alive', 'cookie']);
// Environment variables `run` sets itself; a secret may not claim one.
const RESERVED_ENV = new Set([
  'PATH', 'HOME', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'ALL_PROXY', 'NODE_USE_ENV_PROXY', 'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'DENO_CERT', 'CARGO_HTTP_CAINFO', 'NPM_CONFIG_CAFILE',
  'GIT_HTTP_PROXY_AUTHMETHOD', 'GIT_TERMINAL_PROMPT', 'AGENTAUTH_PASSPHRASE', 'AGENTAUTH_PASSPHRASE_FILE', 'AGENTAUTH_BACKEND', 'AGENTAUTH_HOME',
]);
// Variables that change how programs start, which code they load, or which
// commands they run. A secret's variable holds a placeholder, so naming one of
// these could at best break the child and at worst make a shell, a dynamic
// loader or git run something: no credential is ever meant to travel in them.
const CODE_ENV = new Set([
  'BASH_ENV', 'ENV', 'SHELL', 'SHELLOPTS', 'BASHOPTS', 'IFS', 'PS1', 'PS2', 'PS3', 'PS4', 'PROMPT_COMMAND', 'CDPATH', 'GLOBIGNORE', 'ZDOTDIR',
  'EDITOR', 'VISUAL', 'PAGER', 'MANPAGER', 'BROWSER', 'SSH_ASKPASS', 'SUDO_ASKPASS', 'SSH_AUTH_SOCK', 'TMPDIR', 'TERMINFO', 'LOCPATH',
  'NLSPATH', 'GCONV_PATH', 'GLIBC_TUNABLES', 'HOSTALIASES', 'RESOLV_HOST_CONF', 'CLASSPATH', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS',
  'JDK_JAVA_OPTIONS', 'DOTNET_STARTUP_HOOKS', 'RUSTC_WRAPPER', 'LESSOPEN', 'LESSCLOSE', 'OPENSSL_CONF', 'OPENSSL_MODULES',
]);
const CODE_ENV_PREFIXES = ['LD_', 'DYLD_', 'NODE_', 'NPM_CONFIG_', 'PYTHON', 'PERL', 'RUBY', 'GIT_', 'BASH_FUNC_', 'CORECLR_', 'COR_', 'XDG_', 'AGENTAUTH_'];
// A credential that does live under one of those prefixes (setup-node's .npmrc reads it).
const CREDENTIAL_ENV = new Set(['NODE_AUTH_TOKEN']);

export function parseHostPattern(text: string): HostPattern {
  const bad = (why: string) =>
    usageError('BAD_HOST', `invalid --host ${JSON.stringify(text)}: ${why}`, {
      hint: 'use an exact host (api.example.com), one wildcard label (*.example.com), optionally :PORT; http://HOST[:PORT] only for a service without TLS',
    });
  let rest = text.trim().toLowerCase();
  let scheme: Scheme = 'https';
  const prefix = /^([a-z][a-z0-9+.-]*):\/\//.exec(rest);
  if (prefix) {
    if (prefix[1] !== 'http' && prefix[1] !== 'https') throw bad('the scheme must be https:// (the default) or http://');
    scheme = prefix[1];
    rest = rest.slice(prefix[0].length);
    // `http://host:port/` as copied from a browser: the one trailing slash is not a path.
    if (rest.endsWith('/')) rest = rest.slice(0, -1);
  }
  if (rest.includes('/') || rest.includes('@')) throw bad('give a host, not a URL with a path or user');
  let port = DEFAULT_PORTS[scheme];
  let host: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end === -1) throw bad('unclosed [');
    host = rest.slice(1, end);
    rest = rest.slice(end + 1);
    if (rest.startsWith(':')) port = parsePort(rest.slice(1), bad);
    else if (rest !== '') throw bad('unexpected text after ]');
    if (isIP(host) !== 6) throw bad('not an IPv6 address');
    return { scheme, host, wildcard: false, port };
  }
  const colon = rest.lastIndexOf(':');
  if (colon !== -1) {
    port = parsePort(rest.slice(colon + 1), bad);
    rest = rest.slice(0, colon);
  }
  if (isIP(rest) === 4) return { scheme, host: rest, wildcard: false, port };
  let wildcard = false;
  if (rest.startsWith('*.')) {
    wildcard = true;
    rest = rest.slice(2);
  }
  const labels = rest.split('.');
  if (rest.length > 253 || labels.some((label) => !LABEL.test(label))) throw bad('not a valid DNS name');
  // `*.com` would bind a secret to a whole top-level domain.
  if (wildcard && labels.length < 2) throw bad('a wildcard needs at least two labels after it (*.example.com)');
  host = rest;
  return { scheme, host, wildcard, port };
}

function parsePort(text: string, bad: (why: string) => Error): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw bad('bad port');
  return port;
}

/** As stored and listed: https bindings bare (`api.example.com`, `host:8443`), plain-HTTP ones spelled out (`http://localhost:11434`). */
export function formatHostPattern(pattern: HostPattern): string {
  const host = pattern.wildcard ? `*.${pattern.host}` : isIP(pattern.host) === 6 ? `[${pattern.host}]` : pattern.host;
  const authority = pattern.port === DEFAULT_PORTS[pattern.scheme] ? host : `${host}:${pattern.port}`;
  return pattern.scheme === 'http' ? `http://${authority}` : authority;
}

/** `*.example.com` matches exactly one more label: a.example.com, not example.com nor a.b.example.com. Same scheme and port only. */
export function hostMatches(pattern: HostPattern, scheme: Scheme, host: string, port: number): boolean {
  return scheme === pattern.scheme && hostNameMatches(pattern, host, port);
}

/** The host and port alone (the scheme is checked by the caller). `host` is already lowercase. */
function hostNameMatches(pattern: HostPattern, host: string, port: number): boolean {
  if (port !== pattern.port) return false;
  if (!pattern.wildcard) return host === pattern.host;
  if (!host.endsWith(`.${pattern.host}`)) return false;
  const label = host.slice(0, host.length - pattern.host.length - 1);
  return label.length > 0 && !label.includes('.');
}

/**
 * Path prefixes match on segment boundaries: `/v1` covers `/v1` and `/v1/x`,
 * never `/v1beta`. Both sides are decoded paths (see decodeRequestPath).
 */
export function pathMatches(prefix: string | undefined, path: string): boolean {
  if (prefix === undefined || prefix === '/' || prefix === '') return true;
  if (!path.startsWith(prefix)) return false;
  if (prefix.endsWith('/')) return true;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/';
}

/**
 * A request path as a path-limited grant compares it: percent-decoded once.
 * Null when servers could read the path differently from the grant: an
 * encoded `/` or `\` (nginx and others decode them before routing), a raw
 * `\`, `;` parameters (Tomcat's `/..;/`), a fragment, an escape that decodes
 * to another escape or to a control byte, bad UTF-8, or a dot segment raw or
 * encoded (`/v1/..%2fadmin` must never match `/v1`).
 */
export function decodeRequestPath(path: string): string | null {
  if (/[\\;#]/.test(path)) return null;
  if (!path.includes('%')) return hasDotSegment(path) ? null : path;
  let decoded: string;
  let escaped = '';
  try {
    decoded = decodeURIComponent(path);
    for (const run of path.match(/(?:%[0-9A-Fa-f]{2})+/g) ?? []) escaped += decodeURIComponent(run);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  if (/[/\\;#%?\u0000-\u001f\u007f]/.test(escaped)) return null;
  return hasDotSegment(decoded) ? null : decoded;
}

function validatePathPrefix(path: string): string {
  if (!path.startsWith('/') || /[?#\s]/.test(path) || decodeRequestPath(path) === null) {
    throw usageError('BAD_PATH', `invalid path prefix ${JSON.stringify(path)}: it must start with "/" and hold no query, fragment, spaces, dot segments, ";", "\\" or encoded separators`);
  }
  return path;
}

/** True when a path holds `.` or `..` segments, also percent-encoded (`%2e`). */
function hasDotSegment(path: string): boolean {
  return path.split('/').some((segment) => {
    const decoded = segment.replace(/%2e/gi, '.');
    return decoded === '.' || decoded === '..';
  });
}

function normaliseMethods(methods: string[], flag: string): string[] {
  const list = [...new Set(methods.map((method) => method.trim().toUpperCase()))];
  for (const method of list) {
    if (!METHOD.test(method)) throw usageError('BAD_METHOD', `invalid ${flag} ${JSON.stringify(method)}: an HTTP method such as GET or POST`);
  }
  return list.sort();
}

/** Exported for its tests. */
export function validateEnvName(name: string, flag: string): string {
  if (!ENV_NAME.test(name)) throw usageError('BAD_ENV_NAME', `invalid ${flag} ${JSON.stringify(name)}: letters, digits and _, not starting with a digit`);
  const upper = name.toUpperCase();
  if (RESERVED_ENV.has(upper)) {
    throw usageError('RESERVED_ENV_NAME', `${flag} ${name} is a variable agentauth run sets itself`, { hint: 'pick another name' });
  }
  if (CODE_ENV.has(upper) || (CODE_ENV_PREFIXES.some((prefix) => upper.startsWith(prefix)) && !CREDENTIAL_ENV.has(upper))) {
    throw usageError('RESERVED_ENV_NAME', `${flag} ${name} is a variable that changes how programs start, load code or run commands; a secret's placeholder never goes in one`, {
      hint: `refused: ${CODE_ENV_PREFIXES.map((prefix) => `${prefix}*`).join(', ')}, BASH_ENV, ENV, SHELL, IFS, PROMPT_COMMAND and the like. Use the name the client reads its key from (e.g. ANTHROPIC_API_KEY)`,
    });
  }
  return name;
}

/**
 * `--header NAME[:FORMAT]`: FORMAT is a template holding `{}` once
 * (`Bearer {}`), or `basic:USER` (HTTP Basic, the value as the password).
 */
function parseHeaderPlacement(text: string, defaultFormat?: string): Placement {
  const colon = text.indexOf(':');
  const name = (colon === -1 ? text : text.slice(0, colon)).trim();
  const format = colon === -1 ? defaultFormat : text.slice(colon + 1).trim();
  if (!TOKEN_CHARS.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
    throw usageError('BAD_HEADER', `invalid --header ${JSON.stringify(text)}: an HTTP header name that is not framing or proxy related, optionally :FORMAT`, {
      hint: "e.g. --header x-api-key, --header 'authorization:Bearer {}', --header authorization:basic:x-access-token",
    });
  }
  if (format === undefined || format === '' || format === FORMAT_SLOT) return { header: name };
  if (format.toLowerCase().startsWith(BASIC_PREFIX)) {
    const user = format.slice(BASIC_PREFIX.length);
    // RFC 7617: the user-id holds no colon; nor may it hold what could split a header.
    if (user === '' || user.includes(':') || /[\x00-\x1f\x7f]/.test(user) || user.includes(FORMAT_SLOT)) {
      throw usageError('BAD_FORMAT', `invalid format ${JSON.stringify(format)}: basic:USER names the Basic user (no colon), e.g. basic:x-access-token`);
    }
    return { header: name, format: `${BASIC_PREFIX}${user}` };
  }
  if (format.split(FORMAT_SLOT).length !== 2 || /[\r\n\0]/.test(format)) {
    throw usageError('BAD_FORMAT', `invalid format ${JSON.stringify(format)}: it must contain "{}" exactly once (e.g. 'Bearer {}'), or be basic:USER`);
  }
  return { header: name, format };
}

function parseQueryPlacement(text: string): Placement {
  if (!/^[A-Za-z0-9._~-]+$/.test(text)) throw usageError('BAD_QUERY', `invalid --query ${JSON.stringify(text)}: letters, digits and . _ ~ -`);
  return { query: text };
}

/** The Basic user a placement declares, or null when it is not a Basic placement. */
export function basicUser(placement: Placement): string | null {
  return 'header' in placement && placement.format?.startsWith(BASIC_PREFIX) ? placement.format.slice(BASIC_PREFIX.length) : null;
}

/** As `secret list` shows it and as a hint names it: `x-api-key`, `authorization: Bearer {}`, `authorization: Basic x-access-token:{}`, `?key=`. */
export function describePlacement(placement: Placement): string {
  if (!('header' in placement)) return `?${placement.query}=`;
  const user = basicUser(placement);
  if (user !== null) return `${placement.header}: Basic ${user}:{}`;
  return placement.format ? `${placement.header}: ${placement.format}` : placement.header;
}

function placementKey(placement: Placement): string {
  return 'header' in placement ? `h:${placement.header.toLowerCase()}:${placement.format ?? ''}` : `q:${placement.query}`;
}

/** Checks a new secret's binding and returns the record to store in config. */
export function buildSecretRecord(name: string, input: SecretInput, now: Date): SecretRecord {
  validateName(name, 'secret');
  if (input.hosts.length === 0) throw usageError('NO_HOST', 'a secret needs at least one --host it may be sent to (or a --preset that names them)');
  const patterns = input.hosts.map(parseHostPattern);
  const hosts = [...new Set(patterns.map(formatHostPattern))];
  const headers = input.headers ?? [];
  const queries = input.queries ?? [];
  if (headers.length === 0 && queries.length === 0) {
    throw usageError('BAD_PLACEMENT', 'say where the value travels: --header NAME[:FORMAT] or --query PARAM (each repeatable), or a --preset', { hint: `presets fill this in; or e.g. --header x-api-key` });
  }
  if (input.format !== undefined && headers.length === 0) throw usageError('BAD_FORMAT', '--format applies to --header only');
  if (input.format !== undefined) parseHeaderPlacement(`x:${input.format}`);
  const placements: Placement[] = [];
  const seen = new Set<string>();
  for (const placement of [...headers.map((text) => parseHeaderPlacement(text, input.format)), ...queries.map(parseQueryPlacement)]) {
    const key = placementKey(placement);
    if (seen.has(key)) continue;
    seen.add(key);
    placements.push(placement);
  }
  if (placements.length > MAX_PLACEMENTS) throw usageError('BAD_PLACEMENT', `at most ${MAX_PLACEMENTS} placements per secret`);
  const record: SecretRecord = { name, hosts, placements, createdAt: now.toISOString() };
  if (input.path !== undefined) record.pathPrefix = validatePathPrefix(input.path);
  if (input.methods !== undefined && input.methods.length > 0) record.methods = normaliseMethods(input.methods, '--method');
  const env = [...new Set((input.env ?? []).map((variable) => validateEnvName(variable, '--env')))];
  if (env.length > 0) record.env = env;
  if (input.baseUrlEnv !== undefined) {
    record.baseUrlEnv = validateEnvName(input.baseUrlEnv, '--base-url-env');
    if (env.includes(record.baseUrlEnv)) throw usageError('ENV_TAKEN', `${record.baseUrlEnv} cannot be both an --env variable and the --base-url-env variable`);
    if (!patterns.some((pattern) => !pattern.wildcard)) {
      throw usageError('BAD_BASE_URL', '--base-url-env needs one exact --host (a wildcard names no single upstream)');
    }
  }
  if (input.preset !== undefined) record.preset = input.preset;
  return record;
}

/** The variables a secret sets in the child: its --env ones and its --base-url-env one. */
function secretVariables(secret: SecretRecord): string[] {
  return [...(secret.env ?? []), ...(secret.baseUrlEnv !== undefined ? [secret.baseUrlEnv] : [])];
}

/**
 * Two secrets one agent holds must not set the same variable in its child
 * (one would silently overwrite the other). Secrets never granted to the same
 * agent may share names: each agent's child gets its own.
 */
export function findVariableClash(secrets: readonly SecretRecord[]): { variable: string; first: string; second: string } | null {
  const owner = new Map<string, string>();
  for (const secret of secrets) {
    for (const variable of secretVariables(secret)) {
      const first = owner.get(variable);
      if (first !== undefined && first !== secret.name) return { variable, first, second: secret.name };
      owner.set(variable, secret.name);
    }
  }
  return null;
}

/** Refuses a set of grants whose secrets set the same variable in the agent's child. */
export function assertAgentVariablesDistinct(config: Config, agent: AgentRecord): void {
  const clash = findVariableClash(agent.grants.map((grant) => config.secrets[grant.secret]).filter((secret): secret is SecretRecord => secret !== undefined));
  if (clash) {
    throw usageError('ENV_TAKEN', `agent "${agent.name}" would get ${clash.variable} from both "${clash.first}" and "${clash.second}"`, {
      hint: `one secret can declare several headers (--header … --header …); or revoke one: agentauth grant ${agent.name} ${clash.first} --revoke`,
    });
  }
}

/**
 * The value read from stdin, a prompt or a file, as bytes: one trailing
 * newline dropped, then stored byte for byte. Refused, with the reason but
 * never the value: control characters (a value could split a header), a
 * leading or trailing space (HTTP strips it from header values), and bytes
 * that are not UTF-8 (the gateway carries values as text in headers and
 * query strings and scrubs their text forms from responses, so such a value
 * would arrive altered and could escape scrubbing).
 */
export function validateSecretValue(raw: Buffer | string): Buffer {
  let bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (bytes[bytes.length - 1] === 0x0a) bytes = bytes.subarray(0, bytes[bytes.length - 2] === 0x0d ? -2 : -1);
  const control = bytes.findIndex((byte) => byte < 0x20 || byte === 0x7f);
  if (control !== -1) {
    throw usageError('BAD_SECRET_VALUE', `the value contains a control character at offset ${control} (a newline or tab inside it?)`, { hint: 'pipe exactly the value, e.g. printf %s "$KEY" | agentauth secret add …' });
  }
  const invalid = firstInvalidUtf8(bytes);
  if (invalid !== -1) {
    throw usageError('BAD_SECRET_VALUE', `the value is not valid UTF-8 (at offset ${invalid}): the gateway sends values as text in headers and query strings, so these bytes would arrive altered`, {
      hint: 'give the value in the text form the service expects (an API key is text; binary keys are usually base64)',
    });
  }
  if (bytes[0] === 0x20 || bytes[bytes.length - 1] === 0x20) {
    throw usageError('BAD_SECRET_VALUE', 'the value starts or ends with a space, which HTTP strips from header values', { hint: 'pipe exactly the value, without spaces around it' });
  }
  if (bytes.length < MIN_VALUE_BYTES) {
    throw usageError('SECRET_TOO_SHORT', `the value is ${bytes.length} bytes; at least ${MIN_VALUE_BYTES} are needed so it can be scrubbed from responses safely`);
  }
  if (bytes.length > MAX_VALUE_BYTES) throw usageError('SECRET_TOO_LONG', `the value is longer than ${MAX_VALUE_BYTES} bytes`);
  return Buffer.from(bytes);
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8(bytes: Buffer): number {
  if (isUtf8(bytes)) return -1;
  // Decoding replaces each bad sequence with U+FFFD: the first byte that differs is where it starts.
  const decoded = Buffer.from(bytes.toString('utf8'), 'utf8');
  let i = 0;
  while (i < bytes.length && bytes[i] === decoded[i]) i += 1;
  return i;
}

export function findSecret(config: Config, name: string): SecretRecord {
  validateName(name, 'secret');
  const secret = config.secrets[name];
  if (!secret) {
    const known = Object.keys(config.secrets);
    throw notFoundError('UNKNOWN_SECRET', `no secret named "${name}"`, {
      hint: known.length ? `known secrets: ${known.join(', ')}` : `add it first: agentauth secret add ${name} --host … --header …`,
    });
  }
  return secret;
}

/**
 * For `agent add|update --secret S…`: every named secret must exist. Returns
 * full (un-narrowed) grants.
 */
export function resolveSecretGrants(config: Config, names: string[]): GrantRecord[] {
  return [...new Set(names)].map((name) => {
    findSecret(config, name);
    return { secret: name };
  });
}

export interface GrantInput {
  methods?: string[];
  paths?: string[];
}

/** A grant for `secret`, narrowed by `input`; widening the secret's binding is refused (exit 5). */
export function buildGrant(secret: SecretRecord, input: GrantInput): GrantRecord {
  const grant: GrantRecord = { secret: secret.name };
  if (input.methods && input.methods.length > 0) {
    const methods = normaliseMethods(input.methods, '--method');
    const outside = secret.methods ? methods.filter((method) => !secret.methods!.includes(method)) : [];
    if (outside.length > 0) {
      throw policyError('GRANT_WIDENS', `secret "${secret.name}" may only be used with ${secret.methods!.join(', ')}; a grant cannot add ${outside.join(', ')}`, {
        hint: 'a grant can only narrow the secret\'s binding',
      });
    }
    grant.methods = methods;
  }
  if (input.paths && input.paths.length > 0) {
    const paths = [...new Set(input.paths.map(validatePathPrefix))];
    const ceiling = secret.pathPrefix !== undefined ? decodeRequestPath(secret.pathPrefix) ?? undefined : undefined;
    const outside = paths.filter((path) => !pathMatches(ceiling, decodeRequestPath(path)!));
    if (outside.length > 0) {
      throw policyError('GRANT_WIDENS', `secret "${secret.name}" is bound to paths under ${secret.pathPrefix}; a grant cannot reach ${outside.join(', ')}`, {
        hint: 'a grant can only narrow the secret\'s binding',
      });
    }
    grant.paths = paths.sort();
  }
  return grant;
}

/** Adds or replaces the agent's grant for `grant.secret`. */
export function applyGrant(agent: AgentRecord, grant: GrantRecord, now: Date): void {
  const index = agent.grants.findIndex((existing) => existing.secret === grant.secret);
  if (index === -1) agent.grants.push(grant);
  else agent.grants[index] = grant;
  agent.updatedAt = now.toISOString();
}

/** Removes a secret and every grant of it; returns the agents that lost one. */
export function removeSecret(config: Config, name: string, now: Date): { secret: SecretRecord; revokedFrom: string[] } {
  const secret = findSecret(config, name);
  delete config.secrets[name];
  const revokedFrom: string[] = [];
  for (const agent of Object.values(config.agents)) {
    const before = agent.grants.length;
    agent.grants = agent.grants.filter((grant) => grant.secret !== name);
    if (agent.grants.length !== before) {
      revokedFrom.push(agent.name);
      agent.updatedAt = now.toISOString();
    }
  }
  return { secret, revokedFrom };
}

/** What one request may do with a secret: the binding intersected with the grant. */
export interface EffectivePolicy {
  secret: SecretRecord;
  hosts: HostPattern[];
  /** Undefined = any method. */
  methods: string[] | undefined;
  /** Undefined = any path. Every entry lies inside the secret's prefix. Decoded, as request paths are compared. */
  paths: string[] | undefined;
  /** The secret's own prefix, decoded: the ceiling even if an old grant says otherwise. */
  ceiling: string | undefined;
}

export function buildEffectivePolicy(secret: SecretRecord, grant: GrantRecord): EffectivePolicy {
  const methods = grant.methods ?? secret.methods;
  const paths = grant.paths ?? (secret.pathPrefix !== undefined ? [secret.pathPrefix] : undefined);
  // Stored prefixes were validated on the way in; one that no longer decodes cleanly matches nothing.
  const decode = (prefix: string) => decodeRequestPath(prefix) ?? '\u0000';
  return {
    secret,
    hosts: secret.hosts.map(parseHostPattern),
    methods,
    paths: paths?.map(decode),
    ceiling: secret.pathPrefix !== undefined ? decode(secret.pathPrefix) : undefined,
  };
}

/** Whether the policy limits paths at all: then ambiguous paths are refused (decodeRequestPath). */
function policyLimitsPaths(policy: EffectivePolicy): boolean {
  return policy.paths !== undefined || (policy.ceiling !== undefined && policy.ceiling !== '/');
}

/** `path` is the raw request path (no query); it is decoded here when the policy limits paths. */
export function policyAllows(policy: EffectivePolicy, method: string, path: string): boolean {
  if (policy.methods && !policy.methods.includes(method.toUpperCase())) return false;
  if (!policyLimitsPaths(policy)) return true;
  const decoded = decodeRequestPath(path);
  if (decoded === null) return false;
  if (policy.paths && !policy.paths.some((prefix) => pathMatches(prefix, decoded))) return false;
  return pathMatches(policy.ceiling, decoded);
}

export function policyBindsHost(policy: EffectivePolicy, scheme: Scheme, host: string, port: number): boolean {
  return policy.hosts.some((pattern) => hostMatches(pattern, scheme, host, port));
}

/**
 * The binding that names this host under the other scheme, if any (for 403
 * scheme-mismatch): on the same port (`http://api.example.com:443`), or each
 * on its scheme's default port (`http://api.example.com` for api.example.com).
 */
export function policyBindsOtherScheme(policy: EffectivePolicy, scheme: Scheme, host: string, port: number): HostPattern | null {
  for (const pattern of policy.hosts) {
    if (pattern.scheme === scheme) continue;
    const defaults = port === DEFAULT_PORTS[scheme] && pattern.port === DEFAULT_PORTS[pattern.scheme];
    if (hostNameMatches(pattern, host, defaults ? pattern.port : port)) return pattern;
  }
  return null;
}
