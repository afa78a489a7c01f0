// Where the gateway CA lives: the key in the keystore, the public certificate
// written once, world-readable, through the one atomic-write helper.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/core/config.js';
import { obtainLocalCa } from '../../../src/core/gateway/ca-store.js';
import type { Paths } from '../../../src/core/paths.js';
import { memoryKeystore } from '../../helpers/memory-keystore.js';

let dir: string;
let paths: Paths;
const config = { installId: 'a1b2c3d4e5f6a7b8', keystoreEntries: [] as string[] } as Config;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aa-ca-store-'));
  paths = { caCert: join(dir, 'data/ca.pem') } as Paths;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the gateway CA on disk', () => {
  it('is created once: key in the keystore, certificate 0644 even under umask 077, no temp file left', async () => {
    const keystore = memoryKeystore();
    const previous = process.umask(0o077);
    let first;
    try {
      first = await obtainLocalCa(config, keystore, paths, new Date());
    } finally {
      process.umask(previous);
    }
    expect(first.createdKey).toBe(true);
    expect(keystore.entries.get('ca-key')).toMatch(/PRIVATE KEY/);
    expect(statSync(paths.caCert).mode & 0o777).toBe(0o644);
    expect(new X509Certificate(readFileSync(paths.caCert)).ca).toBe(true);
    expect(readdirSync(join(dir, 'data'))).toEqual(['ca.pem']);
    // A second run reuses both and rewrites nothing.
    const written = readFileSync(paths.caCert, 'utf8');
    const again = await obtainLocalCa({ ...config, keystoreEntries: ['ca-key'] }, keystore, paths, new Date());
    expect(again.createdKey).toBe(false);
    expect(again.ca.cert.fingerprint256).toBe(first.ca.cert.fingerprint256);
    expect(readFileSync(paths.caCert, 'utf8')).toBe(written);
  });

  it('replaces a link planted at the certificate’s place instead of writing through it', async () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep\n', { mode: 0o600 });
    await obtainLocalCa(config, memoryKeystore(), { caCert: join(dir, 'ca.pem') } as Paths, new Date());
    symlinkSync(victim, join(dir, 'planted'));
    const keystore = memoryKeystore();
    const linked = { caCert: join(dir, 'planted') } as Paths;
    await obtainLocalCa(config, keystore, linked, new Date());
    expect(readFileSync(victim, 'utf8')).toBe('keep\n');
    expect(readFileSync(linked.caCert, 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  });
});
