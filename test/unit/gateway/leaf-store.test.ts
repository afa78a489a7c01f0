import { describe, expect, it } from 'vitest';
import { createKeystoreLeafStore, LEAF_INDEX_ENTRY } from '../../../src/core/gateway/leaf-store.js';
import { memoryKeystore } from '../../helpers/memory-keystore.js';

const leaves = (keystore: { entries: Map<string, string> }) => [...keystore.entries.keys()].filter((name) => name.startsWith('ca-leaf/')).sort();

describe('leaves kept in the keystore', () => {
  it('are stored and read back under ca-leaf/<host>, with an index', async () => {
    const keystore = memoryKeystore();
    const store = createKeystoreLeafStore(keystore);
    await store.set('api.example.com', 'leaf-1');
    expect(await store.get('api.example.com')).toBe('leaf-1');
    expect(JSON.parse(keystore.entries.get(LEAF_INDEX_ENTRY)!)).toEqual(['api.example.com']);
  });

  it('are bounded: past the limit the oldest are deleted, across runs', async () => {
    const keystore = memoryKeystore();
    for (let run = 0; run < 3; run += 1) {
      const store = createKeystoreLeafStore(keystore, { stored: 4, perRun: 10 });
      for (let i = 0; i < 3; i += 1) void store.set(`h${run}${i}.wild.test`, 'leaf').catch(() => {});
      await store.settle();
    }
    expect(leaves(keystore)).toEqual(['ca-leaf/h12.wild.test', 'ca-leaf/h20.wild.test', 'ca-leaf/h21.wild.test', 'ca-leaf/h22.wild.test']);
    expect(JSON.parse(keystore.entries.get(LEAF_INDEX_ENTRY)!)).toEqual(['h12.wild.test', 'h20.wild.test', 'h21.wild.test', 'h22.wild.test']);
  });

  it('a re-stored host moves to the newest end instead of taking a second slot', async () => {
    const keystore = memoryKeystore();
    const store = createKeystoreLeafStore(keystore, { stored: 2, perRun: 10 });
    await store.set('a', '1');
    await store.set('b', '1');
    await store.set('a', '2');
    await store.set('c', '1');
    expect(leaves(keystore)).toEqual(['ca-leaf/a', 'ca-leaf/c']);
  });

  it('a run stores only a few new leaves: a flood of subdomains costs the keystore nothing more', async () => {
    const keystore = memoryKeystore();
    const store = createKeystoreLeafStore(keystore, { stored: 32, perRun: 8 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`h${i}.wild.test`, 'leaf')));
    expect(leaves(keystore)).toHaveLength(8);
  });

  it('a damaged index is rebuilt', async () => {
    const keystore = memoryKeystore();
    keystore.entries.set(LEAF_INDEX_ENTRY, 'not json');
    await createKeystoreLeafStore(keystore).set('a', '1');
    expect(JSON.parse(keystore.entries.get(LEAF_INDEX_ENTRY)!)).toEqual(['a']);
  });
});
