// Segments of a rotated log (audit-log.md, "Rotation and retention"). The
// live file keeps its name (`audit.jsonl`); a rotation renames it to a sealed
// segment beside it, `audit-<segment number>-<date of its first event>.jsonl`,
// and starts a new live file whose `log.init` names the sealed one's final
// checkpoint. Every segment is a complete log of its own (seq from 0, its own
// Merkle tree), so a lone segment verifies with no agentauth code; the links
// in the `log.init` events chain them.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isLowerHex } from './encoding.js';

/** What a continuing segment's `log.init` says about the segment before it: its file name and final checkpoint. */
export interface SegmentLink {
  file: string;
  size: number;
  root: string;
  note: string;
}

/** What a segment's first line says about it. */
export interface SegmentHead {
  /** 1 for a log that was never rotated (its log.init has no `segment`). */
  segment: number;
  previous: SegmentLink | null;
  /** The log.init has a `previous` that is not a well-formed link (a verifier reports it). */
  malformedLink: boolean;
  origin: string | null;
  /** The `ts` of its first event. */
  firstTs: string | null;
}

const SEALED_SUFFIX = /-(\d{6,})-(\d{8})$/;
const GZ = '.gz';

/** `audit.jsonl` → { stem: 'audit', ext: '.jsonl' }. */
function splitName(file: string): { stem: string; ext: string } {
  const name = basename(file);
  return name.endsWith('.jsonl') ? { stem: name.slice(0, -'.jsonl'.length), ext: '.jsonl' } : { stem: name, ext: '' };
}

/** The file name a live log takes when it is sealed: `audit-000001-20261122.jsonl` for segment 1 that began on 22 Nov 2026. */
export function sealedSegmentName(liveFile: string, segment: number, firstTs: string): string {
  const { stem, ext } = splitName(liveFile);
  const day = /^(\d{4})-(\d{2})-(\d{2})T/.exec(firstTs);
  const date = day ? `${day[1]}${day[2]}${day[3]}` : '00000000';
  return `${stem}-${String(segment).padStart(6, '0')}-${date}${ext}`;
}

/** True for a sealed segment's name (plain or gzipped): writers never append to one. */
export function isSealedSegmentName(file: string): boolean {
  const name = basename(file).endsWith(GZ) ? basename(file).slice(0, -GZ.length) : basename(file);
  return SEALED_SUFFIX.test(splitName(name).stem);
}

/** The sealed segments beside a live log (plain or gzipped), oldest first by name. */
export function listSealedSegments(liveFile: string): string[] {
  const dir = dirname(liveFile);
  const { stem, ext } = splitName(liveFile);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^${escapeRegExp(stem)}-\\d{6,}-\\d{8}${escapeRegExp(ext)}(\\.gz)?$`);
  return names.filter((name) => pattern.test(name)).sort().map((name) => join(dir, name));
}

/** The log files in a folder: `*.jsonl` and `*.jsonl.gz`. */
export function listLogsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl') || name.endsWith('.jsonl.gz'))
    .sort()
    .map((name) => join(dir, name));
}

/** The name a link must match: a sealed file may have been gzipped since (`X.jsonl` → `X.jsonl.gz`). */
export function matchesLinkName(file: string, linked: string): boolean {
  const name = basename(file);
  return name === linked || name === `${linked}${GZ}`;
}

/** Reads what a segment's first line (its `log.init`) says about it; null when it is not a log.init. */
export function readSegmentHead(firstLine: Buffer | string | null): SegmentHead | null {
  if (firstLine === null) return null;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(typeof firstLine === 'string' ? firstLine : firstLine.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!event || event['kind'] !== 'log.init' || event['seq'] !== 0) return null;
  const data = (event['data'] ?? {}) as Record<string, unknown>;
  const segment = data['segment'];
  return {
    segment: typeof segment === 'number' && Number.isSafeInteger(segment) && segment >= 1 ? segment : 1,
    previous: parseLink(data['previous']),
    malformedLink: data['previous'] !== undefined && parseLink(data['previous']) === null,
    origin: typeof event['log'] === 'string' ? event['log'] : null,
    firstTs: typeof event['ts'] === 'string' ? event['ts'] : null,
  };
}

function parseLink(value: unknown): SegmentLink | null {
  if (!value || typeof value !== 'object') return null;
  const link = value as Record<string, unknown>;
  const { file, size, root, note } = link;
  if (typeof file !== 'string' || file.includes('/') || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) return null;
  if (typeof root !== 'string' || !isLowerHex(root, 64) || typeof note !== 'string') return null;
  return { file, size, root, note };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
