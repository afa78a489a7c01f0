// Placeholders: what the child holds instead of a secret's value.
//
// `aa-ph-<secret>-<22 characters>`, the same for one agent and one secret in
// every run until `secret rotate` (or the secret is removed and added again),
// so a client that remembers which key it was given (Claude Code asks once
// per key) does not ask again. The characters are an HMAC of the agent, the
// secret's name, when it was added and its rotation count, under a key derived
// from the vault key: only a process that can decrypt the vault can compute
// one, and a placeholder says nothing about the value. It is still no
// credential: the gateway swaps it only for requests that also carry this
// run's session token (or base-URL key), on the secret's bound hosts.
import { createHmac, hkdfSync } from 'node:crypto';
import type { SecretRecord } from '../config.js';

const PLACEHOLDER_PREFIX = 'aa-ph-';

/** A key of its own for placeholders, so that the vault key itself is never used for two purposes. */
export function derivePlaceholderKey(vaultKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', vaultKey, Buffer.alloc(0), 'agentauth placeholder v1', 32));
}

export function derivePlaceholder(key: Buffer, agent: string, secret: Pick<SecretRecord, 'name' | 'createdAt' | 'rotation'>): string {
  const mac = createHmac('sha256', key).update(JSON.stringify([agent, secret.name, secret.createdAt, secret.rotation ?? 0])).digest();
  // 128 bits, base64url with - and _ read as x: one token in every header, URL and shell word.
  return `${PLACEHOLDER_PREFIX}${secret.name}-${mac.subarray(0, 16).toString('base64url').replace(/[-_]/g, 'x')}`;
}
