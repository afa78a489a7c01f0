// Rotation (audit-log.md, "Rotation and retention"). Under the log lock, a
// writer that has just vouched for the live file and sealed it with a
// checkpoint covering every event starts a new segment: the live file takes
// its sealed name, and a new live file begins with a `log.init` that names
// the sealed file and its final checkpoint (size, root and the signed note),
// followed at once by a checkpoint of size 1. Each segment is a log of its
// own (seq from 0, its own tree); the links chain them.
//
// Crash safety comes from the order of the steps and one marker file:
//   1. the new segment is written whole to `<log>.rotating` (fsynced);
//   2. the live file gets its sealed name as a hard link, so the live name
//      never disappears (a rename where the filesystem has no hard links);
//   3. `<log>.rotating` replaces the live name (an atomic rename).
// A kill -9 between any two steps leaves `.rotating` behind, and every writer
// finishes the job (finishInterruptedRotation) under the lock before it
// appends: nothing acknowledged is lost, and the chain stays whole.
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AgentAuthError, checkFailedError } from '../errors.js';
import { existsNoFollow, fsyncDir, isMissingFileError, readOwnFile, writeFileAtomic } from '../fs-safe.js';
import { prepareEvent, serializeCheckpoint, serializeEventTail } from './event.js';
import { parseVkey, type LogSigner } from './log-key.js';
import { hashLeaf } from './merkle.js';
import { openCheckpointNote, signCheckpointNote } from './note.js';
import { isSealedSegmentName, readSegmentHead, sealedSegmentName, type SegmentLink } from './segments.js';
import { parseLine, readLineBefore, readLineFrom } from './tail-state.js';
import { vouchForLog, type WriterMemory } from './vouch.js';

const LF = 0x0a;
// Filesystems without hard links (FAT on some SD cards, some FUSE mounts) say one of these.
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);
// How far back a long-running writer follows the chain to find the segment it wrote to.
const MAX_HOPS = 16;

export function rotatingFileFor(file: string): string {
  return `${file}.rotating`;
}

/** The checkpoint that ends a sealed segment. */
export interface Seal {
  size: number;
  root: string;
  note: string;
}

export interface NewSegmentInput {
  file: string;
  /** Open on the live file, which ends at `end` with the checkpoint `seal`. */
  fd: number;
  end: number;
  seal: Seal;
  origin: string;
  vkey: string;
  signer: LogSigner;
  actor: Record<string, unknown>;
  now: Date;
}

export interface NewSegment {
  /** The path the live file was sealed under. */
  sealed: string;
  /** The new live segment's number. */
  segment: number;
}

/** Seals the live file under its segment name and starts the next segment (the caller holds the lock and has vouched for the file). */
export function startNewSegment(input: NewSegmentInput): NewSegment {
  const { file } = input;
  const head = readSegmentHead(readLineFrom(input.fd, 0, input.end));
  if (!head || head.firstTs === null) throw segmentError(`the audit log ${file} does not start with log.init, so it cannot be sealed as a segment`);
  const sealedName = sealedSegmentName(file, head.segment, head.firstTs);
  const sealed = join(dirname(file), sealedName);
  if (existsNoFollow(sealed)) throw segmentError(`cannot seal ${file}: ${sealed} already exists`, `move ${sealed} away; it was not written by this rotation`);
  const link: SegmentLink = { file: sealedName, size: input.seal.size, root: input.seal.root, note: input.seal.note };
  const init = prepareEvent({ kind: 'log.init', actor: input.actor, data: { origin: input.origin, previous: link, segment: head.segment + 1, vkey: input.vkey } });
  const line = Buffer.concat([init.head, Buffer.from(serializeEventTail(JSON.stringify(input.origin), null, 0, input.now.toISOString()), 'utf8')]);
  // A tree of one leaf has that leaf's hash as its root (RFC 6962).
  const root = hashLeaf(line);
  const checkpoint = serializeCheckpoint({ kind: 'checkpoint', log: input.origin, note: signCheckpointNote(input.signer, 1, root), root: root.toString('hex'), size: 1, v: 1 });
  writeFileAtomic(rotatingFileFor(file), Buffer.concat([line, Buffer.from(`\n${checkpoint}\n`, 'utf8')]));
  sealLiveFile(file, sealed);
  renameSync(rotatingFileFor(file), file);
  fsyncDir(dirname(file));
  return { sealed, segment: head.segment + 1 };
}

/** Step 2: the live file under its sealed name, the live name kept where the filesystem allows. */
function sealLiveFile(file: string, sealed: string): void {
  try {
    linkSync(file, sealed);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!NO_HARD_LINKS.has(code)) throw error;
    renameSync(file, sealed);
  }
  fsyncDir(dirname(file));
}

/**
 * Finishes a rotation a crash interrupted (the caller holds the lock): when
 * `<log>.rotating` exists, the live file is sealed (if it was not yet) and
 * replaced by the new segment. A `.rotating` whose predecessor cannot be
 * found where it should be is removed instead: it holds only the writer's own
 * `log.init`, which nobody was told about.
 */
export function finishInterruptedRotation(file: string): 'none' | 'finished' | 'abandoned' {
  const rotating = rotatingFileFor(file);
  const content = readOwnFile(rotating);
  if (content === null) return 'none';
  const lf = content.indexOf(LF);
  const named = readSegmentHead(lf < 0 ? null : content.subarray(0, lf))?.previous ?? null;
  // Only ever a sealed segment's name beside the log: a planted `.rotating` must not have the live file renamed to vault.json.
  const link = named && isSealedSegmentName(named.file) ? named : null;
  const sealed = link ? join(dirname(file), link.file) : null;
  let finish = false;
  if (link && sealed) {
    if (existsNoFollow(sealed)) {
      // Step 2 happened: the live name is the same file (hard link) or gone (rename).
      finish = !existsNoFollow(file) || sameFile(file, sealed);
    } else if (endsWithSeal(file, link)) {
      sealLiveFile(file, sealed);
      finish = true;
    }
  }
  if (finish) renameSync(rotating, file);
  else unlinkSync(rotating);
  fsyncDir(dirname(file));
  return finish ? 'finished' : 'abandoned';
}

function endsWithSeal(file: string, link: SegmentLink): boolean {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (isMissingFileError(error)) return false;
    throw error;
  }
  try {
    const last = readLineBefore(fd, fstatSync(fd).size);
    const checkpoint = last ? parseLine(last.line) : null;
    return checkpoint?.['kind'] === 'checkpoint' && checkpoint['size'] === link.size && checkpoint['root'] === link.root;
  } finally {
    closeSync(fd);
  }
}

export type Followed = { ok: true } | { ok: false; reason: string; missing: number | null };

/**
 * A long-running writer (a `run` gateway) finds that the live file is no
 * longer the one it appended to. When the live file continues a sealed
 * segment, its own events since its last checkpoint are in that segment
 * now: it vouches for them there exactly as it would have in the live file
 * (the segment must verify from its anchor, hold its events byte for byte,
 * and end with the checkpoint the next segment names). Returns null when the
 * live file does not continue a segment: the log was replaced, which the
 * writer's usual check refuses.
 */
export function followRotation(file: string, liveFd: number, liveEnd: number, memory: WriterMemory, vkey: string): Followed | null {
  let link = readSegmentHead(readLineFrom(liveFd, 0, liveEnd))?.previous ?? null;
  if (!link) return null;
  const key = parseVkey(vkey);
  if (!key) return { ok: false, reason: 'the log key’s verifier key is not valid', missing: null };
  for (let hop = 0; hop < MAX_HOPS && link; hop += 1) {
    if (!isSealedSegmentName(link.file)) return { ok: false, reason: `the log.init that continues ${link.file} does not name a sealed segment`, missing: null };
    const note = openCheckpointNote(link.note, key);
    if (!note.ok || note.size !== link.size || note.root.toString('hex') !== link.root) {
      return { ok: false, reason: `the log.init that continues ${link.file} names a checkpoint that is not signed by the log key`, missing: null };
    }
    const path = join(dirname(file), link.file);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    } catch (error) {
      if (isMissingFileError(error)) return { ok: false, reason: `the sealed segment ${link.file}, which holds events this process appended, is gone`, missing: null };
      throw error;
    }
    try {
      const end = fstatSync(fd).size;
      const first = readLineFrom(fd, 0, end);
      if (first && hashLeaf(first).toString('hex') === memory.firstLeaf) {
        const vouch = vouchForLog({ fd, file: path, end, pending: Buffer.alloc(0), cachedAnchor: null, memory, vkey });
        if (!vouch.ok) return vouch;
        if (vouch.frontier.size !== link.size || vouch.frontier.root().toString('hex') !== link.root) {
          return { ok: false, reason: `the sealed segment ${link.file} does not end with the checkpoint the next segment names`, missing: null };
        }
        return { ok: true };
      }
      // A segment sealed after ours by another writer: only its seal and its link back matter here.
      if (!endsWithSeal(path, link)) return { ok: false, reason: `the sealed segment ${link.file} does not end with the checkpoint the next segment names`, missing: null };
      link = readSegmentHead(first)?.previous ?? null;
    } finally {
      closeSync(fd);
    }
  }
  return { ok: false, reason: `the segment this process appended to is no longer in the chain that leads to ${basename(file)}`, missing: null };
}


function sameFile(a: string, b: string): boolean {
  const x = lstatSync(a);
  const y = lstatSync(b);
  return x.ino === y.ino && x.dev === y.dev;
}

function segmentError(message: string, hint?: string): AgentAuthError {
  return checkFailedError('AUDIT_ROTATE_FAILED', message, hint ? { hint } : {});
}
