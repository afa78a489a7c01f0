// An independent DPoP implementation for tests: Python's `cryptography`
// (Debian python3-cryptography), with JWS and the RFC 7638 thumbprint built
// by hand, so nothing is shared with our code or with jose.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';

const SCRIPT = String.raw`
import base64, hashlib, json, os, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def public_jwk(key, alg):
    if alg == "EdDSA":
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64u(numbers.x.to_bytes(32, "big")), "y": b64u(numbers.y.to_bytes(32, "big"))}

def thumbprint(jwk):
    members = {k: jwk[k] for k in (("crv", "kty", "x") if jwk["kty"] == "OKP" else ("crv", "kty", "x", "y"))}
    return b64u(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())

command, alg, key_file = sys.argv[1:4]
if command == "gen":
    key = Ed25519PrivateKey.generate() if alg == "EdDSA" else ec.generate_private_key(ec.SECP256R1())
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    print(thumbprint(public_jwk(key, alg)))
else:
    method, url, token = sys.argv[4:7]
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk(key, alg)}
    claims = {"jti": b64u(os.urandom(16)), "htm": method, "htu": url, "iat": int(time.time()),
              "ath": b64u(hashlib.sha256(token.encode("ascii")).digest())}
    signing_input = b64u(json.dumps(header).encode()) + "." + b64u(json.dumps(claims).encode())
    if alg == "EdDSA":
        signature = key.sign(signing_input.encode())
    else:
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    print(signing_input + "." + b64u(signature))
`;

/** Null when Debian's python3 with cryptography is missing, else a reason. */
export function missingPythonCryptography(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import cryptography'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${PYTHON} with cryptography (apt-get install python3-cryptography)`;
}

export interface PythonDpopKey {
  jkt: string;
  proof(method: string, url: string, token: string): string;
}

export function createPythonDpopKey(dir: string, alg: 'EdDSA' | 'ES256'): PythonDpopKey {
  const script = join(dir, 'dpop.py');
  writeFileSync(script, SCRIPT);
  const keyFile = join(dir, `python-${alg}.pem`);
  const jkt = execFileSync(PYTHON, [script, 'gen', alg, keyFile], { encoding: 'utf8' }).trim();
  return { jkt, proof: (method, url, token) => execFileSync(PYTHON, [script, 'proof', alg, keyFile, method, url, token], { encoding: 'utf8' }).trim() };
}
