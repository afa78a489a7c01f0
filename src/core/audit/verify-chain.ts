// `audit verify` over several segments of a rotated log (audit-log.md,
// "Rotation and retention"). Each segment is verified as the lone log it is
// (verify.ts); then the links: segment n+1's log.init must name segment n's
// file and its final checkpoint (size, root and the signed note), and
// segment n must end with exactly that checkpoint. Segments may be missing
// at the start (deleted after retention: what remains starts at the signed
// checkpoint its first log.init names), never in between.
import { closeSync, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { basename } from 'node:path';
import type { VerifyIssue, VerifyOptions, VerifyReport } from './checker.js';
import { parseVkey } from './log-key.js';
import { openCheckpointNote } from './note.js';
import { matchesLinkName, readSegmentHead, type SegmentLink } from './segments.js';
import { verifyLogFile } from './verify.js';

export type ChainErrorCode = 'SEGMENT_GAP' | 'SEGMENT_LINK';

export interface SegmentReport {
  file: string;
  segment: number;
  /** What its log.init says it continues (null: the log's first segment). */
  previous: SegmentLink | null;
  report: VerifyReport;
}

export interface ChainReport {
  ok: boolean;
  segments: SegmentReport[];
  /** The signed checkpoint the first segment held continues from: earlier segments were deleted. */
  startsAfter: SegmentLink | null;
  events: number;
  /** The first error: a segment's own (with its file), or a broken link between two. */
  error: (VerifyIssue & { file: string }) | null;
  /** Where the `--trusted` checkpoint was found, when one was given. */
  trusted: { size: number; root: string; result: string; file: string | null } | null;
}

export interface ChainOptions extends VerifyOptions {
  /** Progress over all the files: bytes read so far (compressed bytes for a gzipped segment) and the total. */
  onChainProgress?: (done: number, total: number) => void;
  /** Called with each segment's index before its events are verified (replay tags events with it). */
  onSegment?: (segment: SegmentReport) => void;
}

interface Candidate {
  file: string;
  segment: number;
  previous: SegmentLink | null;
  malformedLink: boolean;
  bytes: number;
}

const TRUSTED_CODES = new Set(['TRUNCATED', 'ROLLBACK', 'FORK']);

export async function verifySegments(files: readonly string[], options: ChainOptions = {}): Promise<ChainReport> {
  const candidates: Candidate[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const { identity, bytes } = identify(file);
    // The same file under two names: a rotation in progress (hard link), or a file named twice.
    if (seen.has(identity)) continue;
    seen.set(identity, file);
    const head = readSegmentHead(await readFirstLine(file));
    candidates.push({ file, segment: head?.segment ?? 1, previous: head?.previous ?? null, malformedLink: head?.malformedLink ?? false, bytes });
  }
  candidates.sort((a, b) => a.segment - b.segment);

  const total = candidates.reduce((sum, c) => sum + c.bytes, 0);
  let before = 0;
  const segments: SegmentReport[] = [];
  for (const candidate of candidates) {
    const entry: SegmentReport = { file: candidate.file, segment: candidate.segment, previous: candidate.previous, report: null as unknown as VerifyReport };
    options.onSegment?.(entry);
    const base = before;
    const perFile: VerifyOptions = { ...options };
    if (options.onChainProgress) perFile.onProgress = (bytes) => options.onChainProgress?.(base + bytes, total);
    entry.report = await verifyLogFile(candidate.file, perFile);
    before += candidate.bytes;
    segments.push(entry);
  }

  const chain: ChainReport = { ok: false, segments, startsAfter: null, events: 0, error: null, trusted: null };
  chain.events = segments.reduce((sum, s) => sum + s.report.events, 0);
  const fail = (file: string, code: ChainErrorCode, message: string) => {
    chain.error ??= { file, line: 1, byte_offset: 0, seq: 0, code, message };
  };

  resolveTrusted(chain, options);
  for (const s of segments) {
    if (s.report.error) chain.error ??= { file: s.file, ...s.report.error };
  }
  checkLinks(chain, candidates, fail);
  chain.ok = chain.error === null;
  return chain;
}

function checkLinks(chain: ChainReport, candidates: readonly Candidate[], fail: (file: string, code: ChainErrorCode, message: string) => void): void {
  const { segments } = chain;
  const first = segments[0];
  if (!first) return;
  const vkeys = new Set(segments.map((s) => s.report.vkey).filter((v) => v !== null));
  const origins = new Set(segments.map((s) => s.report.origin).filter((v) => v !== null));
  if (origins.size > 1) fail(first.file, 'SEGMENT_LINK', `the files belong to different logs (${[...origins].join(', ')})`);
  if (vkeys.size > 1) fail(first.file, 'SEGMENT_LINK', 'the segments are checked with different verifier keys (each took its own log.init hint): pass --vkey');
  const key = first.report.vkey ? parseVkey(first.report.vkey) : null;
  for (let i = 0; i < segments.length; i += 1) {
    const s = segments[i]!;
    const candidate = candidates[i]!;
    const name = basename(s.file);
    if (candidate.malformedLink) fail(s.file, 'SEGMENT_LINK', `${name}: its log.init has a "previous" that is not a well-formed link (file, size, root, note)`);
    if (s.segment > 1 && !s.previous) fail(s.file, 'SEGMENT_LINK', `${name} is segment ${s.segment}, but its log.init names no previous segment`);
    if (s.previous && key) {
      const note = openCheckpointNote(s.previous.note, key);
      if (!note.ok || note.size !== s.previous.size || note.root.toString('hex') !== s.previous.root) {
        fail(s.file, 'SEGMENT_LINK', `${name}: the checkpoint its log.init names for ${s.previous.file} is not signed by the log key`);
      }
    }
    if (i === 0) {
      chain.startsAfter = s.previous;
      continue;
    }
    const p = segments[i - 1]!;
    if (s.segment === p.segment) {
      fail(s.file, 'SEGMENT_LINK', `${name} and ${basename(p.file)} are both segment ${s.segment}`);
      continue;
    }
    if (s.segment !== p.segment + 1) {
      fail(s.file, 'SEGMENT_GAP', `segment${s.segment - p.segment > 2 ? 's' : ''} ${p.segment + 1}${s.segment - p.segment > 2 ? `–${s.segment - 1}` : ''} between ${basename(p.file)} and ${name} ${s.segment - p.segment > 2 ? 'are' : 'is'} missing`);
      continue;
    }
    const link = s.previous;
    if (!link) continue;
    if (!matchesLinkName(p.file, link.file)) fail(s.file, 'SEGMENT_LINK', `${name} continues ${link.file}, not ${basename(p.file)}`);
    const sealed = p.report.lastCheckpoint !== null && p.report.lastCheckpoint.line === p.report.lines && p.report.lastCheckpoint.size === p.report.events;
    if (!sealed) fail(p.file, 'SEGMENT_LINK', `${basename(p.file)} is followed by segment ${s.segment} but does not end with a checkpoint of all its events`);
    else if (link.size !== p.report.events || link.root !== p.report.head.root) {
      fail(s.file, 'SEGMENT_LINK', `${name} continues ${link.file} at size ${link.size}, but that segment ends at size ${p.report.events} with another root`);
    }
  }
}

/**
 * A trusted checkpoint may belong to any segment: the log extends it when
 * one segment does (its tree has that root at that size), or when the first
 * segment continues exactly from it. The other segments' verdicts about it
 * are then moot. When none does, the live (last) segment's verdict stands.
 */
function resolveTrusted(chain: ChainReport, options: VerifyOptions): void {
  if (options.trusted === undefined || chain.segments.length === 0) return;
  const extending = chain.segments.find((s) => s.report.trusted?.result === 'extends');
  const last = chain.segments[chain.segments.length - 1]!;
  const firstLink = chain.segments[0]!.previous;
  const atStart = firstLink !== null && last.report.trusted !== null && firstLink.size === last.report.trusted.size && firstLink.root === last.report.trusted.root;
  const any = chain.segments.find((s) => s.report.trusted !== null)?.report.trusted ?? null;
  if (!any) return;
  chain.trusted = { size: any.size, root: any.root, result: extending || atStart ? 'extends' : last.report.trusted?.result ?? 'not-checked', file: extending?.file ?? (atStart ? chain.segments[0]!.file : null) };
  for (const s of chain.segments) {
    const error = s.report.error;
    if (!error || !TRUSTED_CODES.has(error.code) || s.report.trusted?.result !== error.code) continue;
    if (extending || atStart || s !== last) {
      s.report.error = null;
      s.report.ok = true;
    }
  }
  if (!extending && !atStart && last.report.error && chain.segments[0]!.previous !== null) {
    last.report.error.message += '; the segments that came before these were deleted, so a checkpoint of theirs cannot be checked';
  }
}

function identify(file: string): { identity: string; bytes: number } {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    return { identity: `${st.dev}:${st.ino}`, bytes: st.size };
  } finally {
    closeSync(fd);
  }
}

/** The first line of a log file, plain or gzipped (null when it has none). */
export async function readFirstLine(file: string): Promise<Buffer | null> {
  const fd = openSync(file, 'r');
  let gz = false;
  try {
    const buf = Buffer.alloc(1 << 16);
    const n = readSync(fd, buf, 0, buf.length, 0);
    gz = n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
    if (!gz) {
      const lf = buf.subarray(0, n).indexOf(0x0a);
      return lf < 0 ? null : Buffer.from(buf.subarray(0, lf));
    }
  } finally {
    closeSync(fd);
  }
  const gunzip = createReadStream(file).pipe(createGunzip());
  const parts: Buffer[] = [];
  try {
    for await (const data of gunzip as AsyncIterable<Buffer>) {
      const lf = data.indexOf(0x0a);
      if (lf >= 0) {
        parts.push(data.subarray(0, lf));
        return Buffer.concat(parts);
      }
      parts.push(data);
    }
  } catch {
    return null;
  } finally {
    gunzip.destroy();
  }
  return null;
}
