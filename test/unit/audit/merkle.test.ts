import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computeRoot,
  consistencyRanges,
  EMPTY_ROOT,
  Frontier,
  hashLeaf,
  hashNode,
  inclusionRanges,
  RangeHasher,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/core/audit/merkle.js';

// RFC 6962 §2.1 MTH written recursively, straight from the definition.
function referenceRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hashNode(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

const leaves = Array.from({ length: 40 }, (_, i) => hashLeaf(`line ${i}`));
const mth = (a: number, b: number) => referenceRoot(leaves.slice(a, b));

describe('merkle', () => {
  it('hashes leaves and nodes with the RFC 6962 prefixes', () => {
    expect(hashLeaf('x').equals(createHash('sha256').update(Buffer.from([0])).update('x').digest())).toBe(true);
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('the frontier gives the same root as the recursive definition at every size', () => {
    const frontier = new Frontier();
    for (let n = 0; n <= leaves.length; n++) {
      expect(frontier.root().toString('hex'), `size ${n}`).toBe(mth(0, n).toString('hex'));
      expect(frontier.hashes.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n + 1)));
      if (n < leaves.length) frontier.append(leaves[n] as Buffer);
    }
    expect(computeRoot(leaves).equals(mth(0, 40))).toBe(true);
  });

  it('inclusion proofs verify for every leaf of every size, and fail when altered', () => {
    for (let size = 1; size <= 20; size++) {
      for (let index = 0; index < size; index++) {
        const proof = inclusionRanges(index, size).map((r) => mth(r.start, r.end));
        const root = mth(0, size);
        expect(verifyInclusion(leaves[index] as Buffer, index, size, proof, root), `${index}/${size}`).toBe(true);
        expect(verifyInclusion(leaves[(index + 1) % 40] as Buffer, index, size, proof, root)).toBe(false);
        if (proof.length > 0) {
          const bad = proof.map((h, i) => (i === 0 ? hashLeaf('evil') : h));
          expect(verifyInclusion(leaves[index] as Buffer, index, size, bad, root)).toBe(false);
        }
        // (The size itself is authenticated by the signed checkpoint, not by the path.)
        if (size > 1) expect(verifyInclusion(leaves[index] as Buffer, (index + 1) % size, size, proof, root)).toBe(false);
      }
    }
  });

  it('consistency proofs verify for every pair of sizes, and fail when altered', () => {
    for (let second = 1; second <= 20; second++) {
      for (let first = 1; first <= second; first++) {
        const proof = consistencyRanges(first, second).map((r) => mth(r.start, r.end));
        expect(verifyConsistency(first, second, mth(0, first), mth(0, second), proof), `${first}→${second}`).toBe(true);
        if (first < second) {
          expect(verifyConsistency(first, second, hashLeaf('other'), mth(0, second), proof)).toBe(false);
          expect(verifyConsistency(first, second, mth(0, first), mth(0, second), proof.slice(0, -1))).toBe(false);
        }
      }
    }
  });

  it('computes range hashes while streaming', () => {
    const ranges = inclusionRanges(13, 37);
    const hasher = new RangeHasher(ranges);
    leaves.slice(0, 37).forEach((leaf, i) => hasher.add(i, leaf));
    expect(hasher.results.map((h) => h.toString('hex'))).toEqual(ranges.map((r) => mth(r.start, r.end).toString('hex')));
  });
});
