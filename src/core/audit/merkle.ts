// RFC 6962 / RFC 9162 Merkle tree hashing, the compact "frontier" of an
// append-only tree, and inclusion/consistency proofs expressed as leaf ranges
// so that a proof can be computed while streaming the log once.
import { createHash, hash as hashOnce } from 'node:crypto';

export const EMPTY_ROOT = createHash('sha256').digest();
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = 0x01;

// The one-shot crypto.hash is ~1.5× faster than a Hash object for inputs this
// small, and the writer hashes every line on the gateway's hot path.
export function hashLeaf(line: Buffer | string): Buffer {
  if (typeof line === 'string') return hashOnce('sha256', `\u0000${line}`, 'buffer');
  return createHash('sha256').update(LEAF_PREFIX).update(line).digest();
}

/**
 * The leaf hash of a line held at `framed[1…]` behind a 0x00 byte: the buffer
 * is then the RFC 6962 leaf input as it stands, so the writer hashes each new
 * line in one call without copying it.
 */
export function hashFramedLeaf(framed: Buffer): Buffer {
  return hashOnce('sha256', framed, 'buffer');
}

export function hashNode(left: Buffer, right: Buffer): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  left.copy(input, 1);
  right.copy(input, 1 + left.length);
  return hashOnce('sha256', input, 'buffer');
}

// The deepest frontier a safe integer size can have (popCount ≤ 53), in 32-byte slots.
const MAX_FRONTIER = 64;

/**
 * The roots of the perfect subtrees that make up a tree of `size` leaves
 * (largest first): at most log2(size) hashes, enough to append and to compute
 * the root without the leaves. Kept in one flat buffer and hashed through one
 * scratch buffer: `audit verify` appends a leaf per line, and per-node
 * allocations showed in its profile.
 */
export class Frontier {
  private sizeValue: number;
  private depth = 0;
  private readonly stack = Buffer.allocUnsafe(MAX_FRONTIER * 32);
  private readonly scratch = Buffer.allocUnsafe(65);

  constructor(size = 0, hashes: readonly Buffer[] = []) {
    if (!Number.isSafeInteger(size) || size < 0 || popCount(size) !== hashes.length) {
      throw new Error(`a frontier of size ${size} has ${popCount(size)} hashes, not ${hashes.length}`);
    }
    this.sizeValue = size;
    for (const hash of hashes) {
      if (hash.length !== 32) throw new Error('a frontier hash is 32 bytes');
      hash.copy(this.stack, this.depth * 32);
      this.depth += 1;
    }
    this.scratch[0] = NODE_PREFIX;
  }

  get size(): number {
    return this.sizeValue;
  }

  /** The subtree roots, largest first (copies). */
  get hashes(): Buffer[] {
    return Array.from({ length: this.depth }, (_, i) => Buffer.from(this.stack.subarray(i * 32, i * 32 + 32)));
  }

  append(leaf: Buffer): void {
    this.appendFrom(leaf, 0);
  }

  /** Appends the leaf hash held at source[at, at + 32). */
  appendFrom(source: Buffer, at: number): void {
    const { stack, scratch } = this;
    let top = this.depth;
    copyHash(source, at, stack, top * 32);
    top += 1;
    // Each trailing 1 bit of the old size is a complete subtree to merge with.
    for (let n = this.sizeValue; n % 2 === 1; n = Math.floor(n / 2)) {
      copyHash(stack, (top - 2) * 32, scratch, 1);
      copyHash(stack, (top - 1) * 32, scratch, 33);
      stack.write(hashOnce('sha256', scratch, 'binary'), (top - 2) * 32, 'latin1');
      top -= 1;
    }
    this.depth = top;
    this.sizeValue += 1;
  }

  root(): Buffer {
    if (this.depth === 0) return EMPTY_ROOT;
    const { stack, scratch } = this;
    const acc = Buffer.from(stack.subarray((this.depth - 1) * 32, this.depth * 32));
    for (let i = this.depth - 2; i >= 0; i--) {
      stack.copy(scratch, 1, i * 32, i * 32 + 32);
      acc.copy(scratch, 33);
      acc.write(hashOnce('sha256', scratch, 'binary'), 0, 'latin1');
    }
    return acc;
  }

  clone(): Frontier {
    return new Frontier(this.sizeValue, this.hashes);
  }
}

/**
 * Copies the 32-byte hash at src[at…] to dst[to…]. A plain loop: Buffer#copy
 * validates its arguments on every call, which showed in `audit verify`'s
 * profile at a few copies per line (about 2× the loop's cost).
 */
export function copyHash(src: Uint8Array, at: number, dst: Uint8Array, to: number): void {
  for (let k = 0; k < 32; k++) dst[to + k] = src[at + k] as number;
}

/** RFC 6962 root from subtree roots listed left to right (largest first). */
export function foldRoot(hashes: readonly Buffer[]): Buffer {
  if (hashes.length === 0) return EMPTY_ROOT;
  let root = hashes[hashes.length - 1] as Buffer;
  for (let i = hashes.length - 2; i >= 0; i--) root = hashNode(hashes[i] as Buffer, root);
  return root;
}

/** Merkle Tree Hash over a list of leaf hashes (for tests and small trees). */
export function computeRoot(leaves: readonly Buffer[]): Buffer {
  const frontier = new Frontier();
  for (const leaf of leaves) frontier.append(leaf);
  return frontier.root();
}

/** How many 1 bits `n` has: the number of subtree roots in a frontier of n leaves. */
export function popCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A half-open range of leaves [start, end) whose Merkle Tree Hash is one proof element. */
export interface LeafRange {
  start: number;
  end: number;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[0:n]) as leaf ranges, in proof order. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  const path = (m: number, start: number, n: number): LeafRange[] => {
    if (n <= 1) return [];
    const k = largestPowerOfTwoBelow(n);
    return m < k
      ? [...path(m, start, k), { start: start + k, end: start + n }]
      : [...path(m - k, start + k, n - k), { start, end: start + k }];
  };
  return path(index, 0, size);
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[0:n]) as leaf ranges, in proof order. */
export function consistencyRanges(first: number, second: number): LeafRange[] {
  if (!(first >= 0 && first <= second)) throw new RangeError(`cannot prove ${first} consistent with ${second}`);
  if (first === 0 || first === second) return [];
  const subproof = (m: number, start: number, n: number, complete: boolean): LeafRange[] => {
    if (m === n) return complete ? [] : [{ start, end: start + n }];
    const k = largestPowerOfTwoBelow(n);
    return m <= k
      ? [...subproof(m, start, k, complete), { start: start + k, end: start + n }]
      : [...subproof(m - k, start + k, n - k, false), { start, end: start + k }];
  };
  return subproof(first, 0, second, true);
}

/**
 * Computes the hashes of disjoint leaf ranges while leaves stream past once,
 * holding at most log2 of a range's width per range.
 */
export class RangeHasher {
  private readonly pending: { range: LeafRange; index: number; frontier: Frontier }[];
  readonly results: Buffer[];

  constructor(ranges: readonly LeafRange[]) {
    this.results = ranges.map(() => EMPTY_ROOT);
    this.pending = ranges.map((range, index) => ({ range, index, frontier: new Frontier() })).sort((a, b) => a.range.start - b.range.start);
  }

  /** Feeds the leaf at position `index`; leaves must arrive in order. */
  add(index: number, leaf: Buffer): void {
    for (const item of this.pending) {
      if (index >= item.range.start && index < item.range.end) {
        item.frontier.append(leaf);
        if (index === item.range.end - 1) this.results[item.index] = item.frontier.root();
      }
    }
  }
}

/** RFC 9162 §2.1.3.2. */
export function verifyInclusion(leaf: Buffer, index: number, size: number, proof: readonly Buffer[], root: Buffer): boolean {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashNode(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashNode(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2, with the trivial cases (empty first tree, equal sizes) made explicit. */
export function verifyConsistency(first: number, second: number, firstRoot: Buffer, secondRoot: Buffer, proof: readonly Buffer[]): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) return false;
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0) return proof.length === 0 && firstRoot.equals(EMPTY_ROOT);
  if (proof.length === 0) return false;
  // A power-of-two first tree is itself a node of the second: its root starts the path.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Buffer;
  let sr = path[0] as Buffer;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashNode(c, fr);
      sr = hashNode(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashNode(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(firstRoot) && sr.equals(secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && popCount(n) === 1;
}
