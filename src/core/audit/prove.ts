// Inclusion and consistency proofs (RFC 9162) against signed checkpoints in
// the log, computed in one streaming pass with O(log n) memory, and their
// verification with only the proof, its checkpoint(s) and the vkey.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { notFoundError, usageError } from '../errors.js';
import { CHECKPOINT_PREFIX } from './event.js';
import { isLowerHex } from './encoding.js';
import type { LogVerifierKey } from './log-key.js';
import { consistencyRanges, hashLeaf, inclusionRanges, RangeHasher, verifyConsistency, verifyInclusion } from './merkle.js';
import { openCheckpointNote } from './note.js';
import { forEachLine } from './line-chunks.js';

export interface InclusionProof {
  type: 'inclusion';
  seq: number;
  size: number;
  event: string;
  leaf_hash: string;
  proof: string[];
  checkpoint: string;
}

export interface ConsistencyProof {
  type: 'consistency';
  from: number;
  to: number;
  proof: string[];
  checkpoints: { from: string; to: string };
}

export type AuditProof = InclusionProof | ConsistencyProof;

interface Pass {
  checkpoints: Map<number, string>;
  events: number;
}

/** Streams the log once: feeds leaves to `hasher`, keeps the events named in `keep`, collects checkpoint notes by size. */
function streamLog(file: string, hasher: RangeHasher, keep: Set<number>, kept: Map<number, string>): Pass {
  const fd = openSync(file, 'r');
  const checkpoints = new Map<number, string>();
  let events = 0;
  try {
    forEachLine(fd, fstatSync(fd).size, 0, (line) => {
      if (line.subarray(0, CHECKPOINT_PREFIX.length).toString('latin1') === CHECKPOINT_PREFIX) {
        const parsed = JSON.parse(line.toString('utf8')) as { note?: unknown; size?: unknown };
        if (typeof parsed.note === 'string' && typeof parsed.size === 'number') checkpoints.set(parsed.size, parsed.note);
      } else {
        hasher.add(events, hashLeaf(line));
        if (keep.has(events)) kept.set(events, line.toString('utf8'));
        events++;
      }
    });
  } finally {
    closeSync(fd);
  }
  return { checkpoints, events };
}

/** Largest checkpoint size ≥ `atLeast`, or the requested one. */
function pickCheckpoint(checkpoints: Map<number, string>, wanted: number | undefined, atLeast: number, what: string): [number, string] {
  if (wanted !== undefined) {
    const note = checkpoints.get(wanted);
    if (!note) throw notFoundError('NO_SUCH_CHECKPOINT', `the log has no checkpoint of size ${wanted}`, { hint: 'sizes of checkpoints: agentauth audit verify --json, or run agentauth audit checkpoint' });
    return [wanted, note];
  }
  let best: [number, string] | null = null;
  for (const [size, note] of checkpoints) if (size >= atLeast && (!best || size > best[0])) best = [size, note];
  if (!best) throw notFoundError('NO_SUCH_CHECKPOINT', `no checkpoint covers ${what} yet`, { hint: 'run: agentauth audit checkpoint' });
  return best;
}

export function proveInclusion(file: string, seq: number, size?: number): InclusionProof {
  if (!Number.isSafeInteger(seq) || seq < 0) throw usageError('BAD_SEQ', `--seq must be a non-negative integer`);
  // First pass: which checkpoints exist (cheap compared with hashing, but simpler than guessing).
  const probe = streamLog(file, new RangeHasher([]), new Set([seq]), new Map());
  if (seq >= probe.events) throw notFoundError('NO_SUCH_EVENT', `the log has ${probe.events} events; there is no seq ${seq}`);
  const [treeSize, note] = pickCheckpoint(probe.checkpoints, size, seq + 1, `seq ${seq}`);
  if (seq >= treeSize) throw usageError('BAD_SIZE', `seq ${seq} is not inside a tree of size ${treeSize}`);
  const ranges = inclusionRanges(seq, treeSize);
  const hasher = new RangeHasher(ranges);
  const kept = new Map<number, string>();
  streamLog(file, hasher, new Set([seq]), kept);
  const event = kept.get(seq) as string;
  return { type: 'inclusion', seq, size: treeSize, event, leaf_hash: hashLeaf(event).toString('hex'), proof: hasher.results.map((h) => h.toString('hex')), checkpoint: note };
}

export function proveConsistency(file: string, from: number, to: number): ConsistencyProof {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) throw usageError('BAD_RANGE', '--from and --to must be checkpoint sizes with from ≤ to');
  const probe = streamLog(file, new RangeHasher([]), new Set(), new Map());
  const [, fromNote] = pickCheckpoint(probe.checkpoints, from, 0, `size ${from}`);
  const [, toNote] = pickCheckpoint(probe.checkpoints, to, 0, `size ${to}`);
  const hasher = new RangeHasher(consistencyRanges(from, to));
  streamLog(file, hasher, new Set(), new Map());
  return { type: 'consistency', from, to, proof: hasher.results.map((h) => h.toString('hex')), checkpoints: { from: fromNote, to: toNote } };
}

export interface ProofCheck {
  ok: boolean;
  type: 'inclusion' | 'consistency';
  message: string;
  code?: string;
}

/** Checks a proof with only itself and the vkey. */
export function verifyProof(proof: unknown, key: LogVerifierKey): ProofCheck {
  const p = proof as Partial<InclusionProof> & Partial<Omit<ConsistencyProof, 'type'>> & { type?: string };
  const hashes = (list: unknown): Buffer[] | null =>
    Array.isArray(list) && list.every((h) => typeof h === 'string' && isLowerHex(h, 64)) ? list.map((h: string) => Buffer.from(h, 'hex')) : null;
  if (p?.type === 'inclusion') {
    const path = hashes(p.proof);
    if (typeof p.event !== 'string' || typeof p.seq !== 'number' || typeof p.size !== 'number' || typeof p.checkpoint !== 'string' || !path) {
      throw usageError('BAD_PROOF', 'the inclusion proof is malformed (needs event, seq, size, proof, checkpoint)');
    }
    const note = openCheckpointNote(p.checkpoint, key);
    if (!note.ok) return { ok: false, type: 'inclusion', code: note.code, message: note.message };
    if (note.size !== p.size) return { ok: false, type: 'inclusion', code: 'CHECKPOINT_MISMATCH', message: `the proof says size ${p.size}, its checkpoint ${note.size}` };
    let event: { seq?: unknown; log?: unknown };
    try {
      event = JSON.parse(p.event) as typeof event;
    } catch {
      return { ok: false, type: 'inclusion', code: 'BAD_JSON', message: 'the event is not JSON' };
    }
    if (event.seq !== p.seq) return { ok: false, type: 'inclusion', code: 'SEQ_GAP', message: `the event's seq is ${String(event.seq)}, the proof's ${p.seq}` };
    if (event.log !== note.origin) return { ok: false, type: 'inclusion', code: 'BAD_ORIGIN', message: 'the event belongs to another log' };
    const ok = verifyInclusion(hashLeaf(p.event), p.seq, p.size, path, note.root);
    return ok
      ? { ok, type: 'inclusion', message: `event ${p.seq} is in the signed tree of size ${p.size}` }
      : { ok, type: 'inclusion', code: 'BAD_PROOF', message: `the inclusion proof for event ${p.seq} does not lead to the signed root of size ${p.size}` };
  }
  if (p?.type === 'consistency') {
    const path = hashes(p.proof);
    if (typeof p.from !== 'number' || typeof p.to !== 'number' || !p.checkpoints || !path) {
      throw usageError('BAD_PROOF', 'the consistency proof is malformed (needs from, to, proof, checkpoints)');
    }
    const a = openCheckpointNote(p.checkpoints.from, key);
    if (!a.ok) return { ok: false, type: 'consistency', code: a.code, message: `first checkpoint: ${a.message}` };
    const b = openCheckpointNote(p.checkpoints.to, key);
    if (!b.ok) return { ok: false, type: 'consistency', code: b.code, message: `second checkpoint: ${b.message}` };
    if (a.size !== p.from || b.size !== p.to || a.origin !== b.origin) return { ok: false, type: 'consistency', code: 'CHECKPOINT_MISMATCH', message: 'the checkpoints do not match the proof' };
    const ok = verifyConsistency(p.from, p.to, a.root, b.root, path);
    return ok
      ? { ok, type: 'consistency', message: `the tree of size ${p.to} extends the tree of size ${p.from}` }
      : { ok, type: 'consistency', code: 'FORK', message: `the trees of size ${p.from} and ${p.to} are not consistent` };
  }
  throw usageError('BAD_PROOF', 'not an agentauth proof: "type" must be inclusion or consistency');
}
