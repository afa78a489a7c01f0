// Where the gateway CA lives: its private key in the keystore (`ca-key`), its
// public certificate at paths.caCert (world-readable by design: it is what
// clients trust). Created on the first `run`, never silently replaced.
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { isMissingFileError, writeFileAtomic } from '../fs-safe.js';
import { entryName, requireEntry, type Keystore } from '../keystore/index.js';
import type { Paths } from '../paths.js';
import { generateCa, loadCa, type LocalCa } from './ca.js';

export interface ObtainedCa {
  ca: LocalCa;
  /** True when the key was just created: the caller records `ca-key` in config.keystoreEntries. */
  createdKey: boolean;
}

export async function obtainLocalCa(config: Config, keystore: Keystore, paths: Paths, now: Date): Promise<ObtainedCa> {
  const label = config.installId.slice(0, 12);
  let keyPem: string | null;
  if (config.keystoreEntries.includes(entryName.caKey)) keyPem = await requireEntry(keystore, entryName.caKey);
  else keyPem = await keystore.get(entryName.caKey);
  if (keyPem === null) {
    const generated = await generateCa(label, now);
    await keystore.setMany({ [entryName.caKey]: generated.keyPem });
    writePublicFile(paths.caCert, generated.ca.certPem);
    return { ca: generated.ca, createdKey: true };
  }
  let certPem: string | null = null;
  try {
    certPem = readFileSync(paths.caCert, 'utf8');
  } catch (error) {
    if (!isMissingFileError(error)) throw error;
  }
  const { ca, reissued } = await loadCa(keyPem, certPem, label, now);
  if (reissued) writePublicFile(paths.caCert, ca.certPem);
  return { ca, createdKey: !config.keystoreEntries.includes(entryName.caKey) };
}

/** Atomic, durable replace of a public file (0644: clients of the child must be able to read it). */
function writePublicFile(file: string, text: string): void {
  writeFileAtomic(file, text, { mode: 0o644 });
}
