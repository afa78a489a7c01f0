// The keys serve holds in memory: the active issuer key and the audit log
// key, read from the keystore once at start. Nothing else is kept (not the
// vault key, not the gateway CA): serve only mints and signs checkpoints.
//
// `key rotate` makes a new active key while serve runs. Serve then reads that
// one key from the keystore again: on the keychain backend that is one more
// read; on the file backend it needs the passphrase, so serve keeps the
// passphrase it was started with in memory (see docs/serve.md: holding the
// keys already gives the same power; re-reading the passphrase source would
// break "read once", a FIFO or a prompt could not answer twice).
import type { Config } from '../config.js';
import { findActiveKey, loadActiveSigner, type IssuerSigner } from '../issuer.js';
import { entryName, requireEntry, type Keystore } from '../keystore/index.js';
import { keystoreError } from '../errors.js';

export interface KeyHolder {
  /** A read-only keystore holding the active issuer key and the log key (loads a rotated key first). */
  keystoreFor(config: Config): Promise<Keystore>;
  /** The active signer; imported once per key. */
  signerFor(config: Config): Promise<IssuerSigner>;
  /** Kids held in memory. */
  kids(): string[];
  /** Drops every key (idle lock, shutdown); later calls fail. */
  forget(): void;
}

/** Opens the keystore once and keeps what serve needs. `open` is called again only for a rotated key. */
export async function unlockKeys(config: Config, open: () => Promise<Keystore>, onLoad: (kid: string) => void = () => {}): Promise<KeyHolder> {
  const entries = new Map<string, string>();
  const signers = new Map<string, IssuerSigner>();
  let forgotten = false;
  let loading: Promise<void> | null = null;

  const load = async (kid: string): Promise<void> => {
    const keystore = await open();
    const issuer = entryName.issuer(kid);
    entries.set(issuer, await requireEntry(keystore, issuer));
    if (!entries.has(entryName.logKey)) entries.set(entryName.logKey, await requireEntry(keystore, entryName.logKey));
    onLoad(kid);
  };

  const ensureActive = async (config: Config): Promise<void> => {
    if (forgotten) throw keystoreError('SERVE_LOCKED', 'agentauth serve has forgotten its keys (idle lock or shutdown)', { hint: 'start it again' });
    const { kid } = findActiveKey(config);
    while (!entries.has(entryName.issuer(kid))) {
      // One reload at a time: concurrent mints after a rotation wait for the same read.
      loading ??= load(kid).finally(() => {
        loading = null;
      });
      await loading;
    }
  };

  const view: Keystore = {
    backend: 'memory',
    get: async (name) => entries.get(name) ?? null,
    setMany: async () => {
      throw keystoreError('SERVE_READ_ONLY', 'serve never writes the keystore');
    },
    deleteMany: async () => {
      throw keystoreError('SERVE_READ_ONLY', 'serve never writes the keystore');
    },
    listNames: async () => [...entries.keys()],
  };

  await ensureActive(config);
  return {
    async keystoreFor(config) {
      await ensureActive(config);
      return view;
    },
    async signerFor(config) {
      await ensureActive(config);
      const { kid } = findActiveKey(config);
      let signer = signers.get(kid);
      if (!signer) {
        signer = await loadActiveSigner(config, view);
        signers.set(kid, signer);
      }
      return signer;
    },
    kids: () => [...entries.keys()].filter((name) => name.startsWith('issuer/')).map((name) => name.slice('issuer/'.length)),
    forget() {
      forgotten = true;
      entries.clear();
      signers.clear();
    },
  };
}
