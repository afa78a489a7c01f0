// Which certificates are trusted, on each side of the gateway:
// - upstream: the system roots (plus --upstream-ca for self-hosted services);
//   verification is never switched off;
// - the child: a bundle of the system roots, any bundle the user had set, and
//   agentauth's local CA, so its clients accept our leaf certificates.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { usageError } from '../errors.js';
import { readUserFile } from '../user-file.js';
import type { Env } from '../paths.js';

/** Where distributions keep the system bundle; the first readable one wins. */
const SYSTEM_BUNDLE_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem', // macOS, BSD
];

/** The CA-bundle variables `run` points at its combined bundle. */
export const CA_BUNDLE_VARS = ['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO', 'PIP_CERT', 'DENO_CERT', 'CARGO_HTTP_CAINFO', 'npm_config_cafile'] as const;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function splitPem(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/** The machine's roots: the OS bundle when there is one, else Node's built-in Mozilla set. */
export function readSystemRoots(files: readonly string[] = SYSTEM_BUNDLE_FILES): string[] {
  for (const file of files) {
    try {
      const certs = splitPem(readFileSync(file, 'utf8'));
      if (certs.length > 0) return certs;
    } catch {
      // Not on this system; try the next place.
    }
  }
  return [...rootCertificates];
}

export function readUpstreamCa(file: string): string[] {
  const text = readUserFile(file, '--upstream-ca').toString('utf8');
  const certs = splitPem(text);
  if (certs.length === 0) throw usageError('BAD_UPSTREAM_CA', `--upstream-ca ${file} holds no PEM certificate`);
  return certs;
}

/** Roots for verifying upstream servers: system + Node's set + the user's extra CAs. */
export function buildUpstreamRoots(extra: readonly string[]): string[] {
  return dedupe([...readSystemRoots(), ...rootCertificates, ...extra]);
}

/**
 * The child's bundle: system roots, every bundle the user already pointed one
 * of these variables at (so a corporate CA keeps working), then our CA.
 */
export function buildChildBundle(env: Env, caPem: string): string {
  const certs = [...readSystemRoots()];
  const seen = new Set<string>();
  for (const name of [...CA_BUNDLE_VARS, 'NODE_EXTRA_CA_CERTS']) {
    const file = lookupCaseInsensitive(env, name);
    if (!file || seen.has(file)) continue;
    seen.add(file);
    try {
      certs.push(...splitPem(readFileSync(file, 'utf8')));
    } catch {
      // A stale variable pointing nowhere: nothing to carry over.
    }
  }
  certs.push(...splitPem(caPem));
  return `${dedupe(certs).join('\n')}\n`;
}

/**
 * The child's NODE_EXTRA_CA_CERTS: our CA, plus the certificates the user's
 * own NODE_EXTRA_CA_CERTS held (gateway.md, run step 3).
 */
export function buildNodeExtraCerts(env: Env, caPem: string): string {
  const certs = splitPem(caPem);
  const file = lookupCaseInsensitive(env, 'NODE_EXTRA_CA_CERTS');
  if (file) {
    try {
      certs.push(...splitPem(readFileSync(file, 'utf8')));
    } catch {
      // A stale variable pointing nowhere: nothing to carry over.
    }
  }
  return `${dedupe(certs).join('\n')}\n`;
}

function lookupCaseInsensitive(env: Env, name: string): string | undefined {
  if (env[name]) return env[name];
  const upper = name.toUpperCase();
  for (const [key, value] of Object.entries(env)) if (key.toUpperCase() === upper && value) return value;
  return undefined;
}

function dedupe(certs: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const cert of certs) {
    const key = cert.replace(/\s+/g, '');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(cert.trim());
  }
  return out;
}
