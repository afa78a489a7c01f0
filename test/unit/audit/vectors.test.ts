// Recomputes test/vectors with agentauth's code. The log there was written by
// bench/audit-gen.mjs (node:crypto + canonicalize only), so agreement is a
// check between two implementations, not of the code against itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { parseVkey } from '../../../src/core/audit/log-key.js';
import { computeRoot, consistencyRanges, hashLeaf, inclusionRanges, verifyConsistency, verifyInclusion } from '../../../src/core/audit/merkle.js';
import { openCheckpointNote } from '../../../src/core/audit/note.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';

const dir = join(import.meta.dirname, '../../vectors');
const vectors = JSON.parse(readFileSync(join(dir, 'vectors.json'), 'utf8')) as {
  origin: string;
  vkey: string;
  leaf_hashes: string[];
  roots: Record<string, string>;
  inclusion: { seq: number; size: number; leaf_hash: string; proof: string[]; root: string };
  consistency: { from: number; to: number; proof: string[]; from_root: string; to_root: string };
};
const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n').slice(0, -1);
const events = lines.filter((line) => (JSON.parse(line) as { kind: string }).kind !== 'checkpoint');
const checkpoints = lines.filter((line) => (JSON.parse(line) as { kind: string }).kind === 'checkpoint').map((line) => JSON.parse(line) as { note: string; root: string; size: number });
const hex = (list: string[]) => list.map((h) => Buffer.from(h, 'hex'));

describe('test vectors', () => {
  it('every line is JCS canonical', () => {
    for (const line of lines) expect(canonicalize(JSON.parse(line))).toBe(line);
  });

  it('leaf hashes and roots', () => {
    const leaves = events.map((line) => hashLeaf(line));
    expect(leaves.map((h) => h.toString('hex'))).toEqual(vectors.leaf_hashes);
    for (let n = 0; n <= leaves.length; n++) expect(computeRoot(leaves.slice(0, n)).toString('hex')).toBe(vectors.roots[String(n)]);
  });

  it('checkpoints are signed by the vkey and name the right roots', () => {
    const key = parseVkey(readFileSync(join(dir, 'vkey.txt'), 'utf8'));
    expect(key?.vkey).toBe(vectors.vkey);
    expect(checkpoints.map((c) => c.size)).toEqual([4, 8, 9]);
    for (const checkpoint of checkpoints) {
      const opened = openCheckpointNote(checkpoint.note, key!);
      expect(opened.ok).toBe(true);
      if (opened.ok) expect(opened.root.toString('hex')).toBe(vectors.roots[String(checkpoint.size)]);
      expect(checkpoint.root).toBe(vectors.roots[String(checkpoint.size)]);
    }
  });

  it('the proofs verify, and are what our prover computes', () => {
    const leaves = events.map((line) => hashLeaf(line));
    const mth = (a: number, b: number) => computeRoot(leaves.slice(a, b)).toString('hex');
    const inc = vectors.inclusion;
    expect(inclusionRanges(inc.seq, inc.size).map((r) => mth(r.start, r.end))).toEqual(inc.proof);
    expect(verifyInclusion(Buffer.from(inc.leaf_hash, 'hex'), inc.seq, inc.size, hex(inc.proof), Buffer.from(inc.root, 'hex'))).toBe(true);
    const con = vectors.consistency;
    expect(consistencyRanges(con.from, con.to).map((r) => mth(r.start, r.end))).toEqual(con.proof);
    expect(verifyConsistency(con.from, con.to, Buffer.from(con.from_root, 'hex'), Buffer.from(con.to_root, 'hex'), hex(con.proof))).toBe(true);
  });

  it('the whole log verifies with the vkey', async () => {
    const report = await verifyLogFile(join(dir, 'audit.jsonl'), { vkey: vectors.vkey });
    expect(report.error).toBeNull();
    expect(report.head).toEqual({ size: 9, root: vectors.roots['9'] });
    expect(report.warnings).toEqual([]);
  });
});
