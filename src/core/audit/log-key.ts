// The log key: a separate Ed25519 key that signs checkpoints (C2SP advises
// against reusing the token issuer key across roles), and its C2SP vkey.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { keystoreError, usageError } from '../errors.js';
import { decodeBase64Strict } from './encoding.js';

const ED25519_TYPE = 0x01;

export interface LogSigner {
  origin: string;
  /** 4-byte C2SP key id. */
  keyId: Buffer;
  vkey: string;
  publicKey: Buffer;
  /** Ed25519 signature over `message`. */
  sign(message: Buffer): Buffer;
}

export interface LogVerifierKey {
  /** The key name, which for our logs is the origin. */
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  vkey: string;
  verify(message: Buffer, signature: Buffer): boolean;
}

/** C2SP key id: the first 4 bytes of SHA-256(name ‖ LF ‖ 0x01 ‖ public key). */
export function computeKeyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.from([0x0a, ED25519_TYPE]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

export function formatVkey(name: string, publicKey: Buffer): string {
  return `${name}+${computeKeyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), publicKey]).toString('base64')}`;
}

export async function createLogKey(origin: string): Promise<{ privateJwk: string; vkey: string; keyId: string }> {
  assertKeyName(origin);
  const { privateKey, publicKey } = await promisify(generateKeyPair)('ed25519');
  const raw = rawPublicKey(publicKey);
  return {
    privateJwk: JSON.stringify(privateKey.export({ format: 'jwk' })),
    vkey: formatVkey(origin, raw),
    keyId: computeKeyId(origin, raw).toString('hex'),
  };
}

export async function loadLogSigner(privateJwk: string, origin: string): Promise<LogSigner> {
  assertKeyName(origin);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: JSON.parse(privateJwk) as never, format: 'jwk' });
  } catch (error) {
    throw keystoreError('BAD_LOG_KEY', 'the audit log key in the keystore is not a valid Ed25519 JWK', { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw keystoreError('BAD_LOG_KEY', `the audit log key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  const publicKey = rawPublicKey(createPublicKey(key));
  return {
    origin,
    keyId: computeKeyId(origin, publicKey),
    vkey: formatVkey(origin, publicKey),
    publicKey,
    sign: (message) => sign(null, message, key),
  };
}

/** Parses a C2SP Ed25519 vkey, or returns null with no side effects when it is malformed. */
export function parseVkey(vkey: string): LogVerifierKey | null {
  // The base64 part may itself contain '+': split on the first two only.
  const text = vkey.trim();
  const first = text.indexOf('+');
  const second = text.indexOf('+', first + 1);
  if (first < 0 || second < 0) return null;
  const name = text.slice(0, first);
  const hexId = text.slice(first + 1, second);
  const encoded = text.slice(second + 1);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hexId)) return null;
  const bytes = decodeBase64Strict(encoded);
  if (!bytes || bytes.length !== 33 || bytes[0] !== ED25519_TYPE) return null;
  const publicKey = bytes.subarray(1);
  const keyId = computeKeyId(name, publicKey);
  if (keyId.toString('hex') !== hexId) return null;
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' });
  } catch {
    return null;
  }
  return {
    name,
    keyId,
    publicKey,
    vkey: vkey.trim(),
    verify: (message, signature) => signature.length === 64 && verify(null, message, keyObject, signature),
  };
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

// C2SP signed-note key names: non-empty, no whitespace, no plus sign.
function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name);
}

function assertKeyName(origin: string): void {
  if (!isValidKeyName(origin)) {
    throw usageError('BAD_LOG_ORIGIN', `the log origin "${origin}" is not a valid key name (no spaces or '+')`);
  }
}
