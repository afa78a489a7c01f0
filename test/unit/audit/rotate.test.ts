// Rotation and retention (audit-log.md, "Rotation and retention"): sealing,
// the links between segments, verification of what remains, and a rotation
// interrupted at every step or under concurrent writers.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, linkSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditAppender } from '../../../src/core/audit/appender.js';
import { serializeEvent } from '../../../src/core/audit/event.js';
import { createLogKey } from '../../../src/core/audit/log-key.js';
import { hashLeaf } from '../../../src/core/audit/merkle.js';
import { rotatingFileFor } from '../../../src/core/audit/rotate.js';
import { listSealedSegments } from '../../../src/core/audit/segments.js';
import { verifySegments } from '../../../src/core/audit/verify-chain.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';
import { appendEvents, stateFileFor } from '../../../src/core/audit/writer.js';
import { bundleForNode, makeFixture, mintEvent, writeLog, type Fixture } from './helpers.js';

const run = promisify(execFile);
const REWRITE = join(import.meta.dirname, '../../fixtures/audit/rewrite-log.mjs');
let shared: Fixture;
let child: string;
beforeAll(async () => {
  shared = await makeFixture();
  child = await bundleForNode(join(import.meta.dirname, 'fixtures/append-child.ts'), join(shared.dir, 'append-child.mjs'));
});
afterAll(() => shared.cleanup());

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const events = (file: string) => lines(file).filter((line) => line['kind'] !== 'checkpoint');
const segmentsOf = (f: { file: string }) => [...listSealedSegments(f.file), f.file];
const withFixture = async (body: (f: Fixture) => Promise<void>) => {
  const f = await makeFixture();
  try {
    await body(f);
  } finally {
    f.cleanup();
  }
};

describe('audit log rotation', () => {
  it('seals the live file with a checkpoint and starts a segment whose log.init names it; each segment verifies alone and as a chain', () =>
    withFixture(async (f) => {
      await writeLog(f, 4);
      await appendEvents(f.file, [mintEvent(5)], f.options());
      const result = await appendEvents(f.file, [], f.options({ rotate: true }));
      expect(result.rotated).toMatchObject({ segment: 2, size: 5, sealed: join(f.dir, 'audit-000001-20261122.jsonl') });
      const sealed = result.rotated!.sealed;
      // The seal: the last line of the sealed file is a checkpoint of all its events.
      expect(lines(sealed).at(-1)).toMatchObject({ kind: 'checkpoint', size: 5, root: result.rotated!.root });
      // The new segment: log.init at seq 0 naming the sealed file and its final checkpoint, then a checkpoint of size 1.
      const live = lines(f.file);
      expect(live).toHaveLength(2);
      expect(live[0]).toMatchObject({ kind: 'log.init', seq: 0, prev: null, data: { origin: f.origin, vkey: f.vkey, segment: 2, previous: { file: 'audit-000001-20261122.jsonl', size: 5, root: result.rotated!.root } } });
      expect((live[0]!['data'] as { previous: { note: string } }).previous.note).toBe(lines(sealed).at(-1)!['note']);
      expect(live[1]).toMatchObject({ kind: 'checkpoint', size: 1 });
      for (const file of [sealed, f.file]) {
        const alone = await verifyLogFile(file, { vkey: f.vkey });
        expect(alone.error, file).toBeNull();
        expect(alone.warnings, file).toEqual([]);
      }
      // Appends go on in the new segment, from seq 1.
      const next = await appendEvents(f.file, [mintEvent(6)], f.options({ forceCheckpoint: true }));
      expect(next.seqs).toEqual([1]);
      const again = await appendEvents(f.file, [], f.options({ rotate: true }));
      expect(again.rotated).toMatchObject({ segment: 3, size: 2 });
      const chain = await verifySegments(segmentsOf(f), { vkey: f.vkey });
      expect(chain.error).toBeNull();
      expect(chain.segments.map((s) => [s.segment, s.report.events])).toEqual([
        [1, 5],
        [2, 2],
        [3, 1],
      ]);
      expect(chain.startsAfter).toBeNull();
    }));

  it('rotates on its own past rotateBytes, only when it can sign, and never appends to a sealed segment', () =>
    withFixture(async (f) => {
      await writeLog(f, 2);
      const unsigned = await appendEvents(f.file, [mintEvent(3)], { origin: f.origin, vkey: f.vkey, rotateBytes: 1024 });
      expect(unsigned.rotated).toBeUndefined();
      let rotations = 0;
      for (let i = 0; i < 12; i++) if ((await appendEvents(f.file, [mintEvent(10 + i)], f.options({ rotateBytes: 2048 }))).rotated) rotations++;
      expect(rotations).toBeGreaterThanOrEqual(2);
      const chain = await verifySegments(segmentsOf(f), { vkey: f.vkey });
      expect(chain.error).toBeNull();
      expect(chain.segments).toHaveLength(rotations + 1);
      // Every event requested is somewhere in the chain, once.
      const jtis = segmentsOf(f).flatMap((file) => events(file).map((e) => (e['data'] as { jti?: string }).jti).filter(Boolean));
      expect(jtis.sort()).toEqual(['jti-1', 'jti-3', ...Array.from({ length: 12 }, (_, i) => `jti-${10 + i}`)].sort());
      const sealed = listSealedSegments(f.file)[0]!;
      const before = readFileSync(sealed);
      await expect(appendEvents(sealed, [mintEvent(99)], f.options())).rejects.toMatchObject({ code: 'AUDIT_SEGMENT_SEALED' });
      expect(readFileSync(sealed)).toEqual(before);
    }));

  it('a rotation with nothing new since the last checkpoint seals at that checkpoint; one the log key cannot vouch for is refused', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      const rotated = await appendEvents(f.file, [], f.options({ rotate: true }));
      expect(rotated.checkpoint).toBeUndefined();
      expect(rotated.rotated).toMatchObject({ size: 3 });
      expect(lines(rotated.rotated!.sealed).filter((l) => l['kind'] === 'checkpoint')).toHaveLength(1);
      // A forged checkpoint at the end (no log key): the writer refuses to seal, and nothing moves.
      await appendEvents(f.file, [mintEvent(4)], f.options());
      const real = lines(f.file).filter((l) => l['kind'] === 'checkpoint').at(-1)!;
      writeFileSync(f.file, `${readFileSync(f.file, 'utf8')}${JSON.stringify({ ...real, size: 2 })}\n`);
      rmSync(stateFileFor(f.file), { force: true });
      const before = readFileSync(f.file);
      await expect(appendEvents(f.file, [], f.options({ rotate: true }))).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED' });
      expect(readFileSync(f.file)).toEqual(before);
      expect(listSealedSegments(f.file)).toHaveLength(1);
    }));

  it('a kill -9 at each step of a rotation: the next writer finishes it, nothing is lost, the chain verifies', async () => {
    // Each step's aftermath, rebuilt from a finished rotation: (1) .rotating written, (2) + hard link, (2') + rename instead of a link.
    for (const step of ['rotating-written', 'linked', 'renamed']) {
      await withFixture(async (f) => {
        await writeLog(f, 3);
        await appendEvents(f.file, [mintEvent(4)], f.options());
        const { rotated } = await appendEvents(f.file, [], f.options({ rotate: true }));
        const sealed = rotated!.sealed;
        renameSync(f.file, rotatingFileFor(f.file));
        if (step === 'rotating-written') renameSync(sealed, f.file);
        if (step === 'linked') linkSync(sealed, f.file);
        rmSync(stateFileFor(f.file), { force: true });
        // Readers meanwhile see whole segments (the same file under two names counts once).
        if (step !== 'renamed') expect((await verifySegments([...listSealedSegments(f.file), f.file], { vkey: f.vkey })).error, step).toBeNull();
        const result = await appendEvents(f.file, [mintEvent(5)], f.options({ forceCheckpoint: true }));
        expect(result.seqs, step).toEqual([1]);
        expect(existsSync(rotatingFileFor(f.file)), step).toBe(false);
        const chain = await verifySegments(segmentsOf(f), { vkey: f.vkey });
        expect(chain.error, step).toBeNull();
        expect(chain.segments.map((s) => s.report.events), step).toEqual([4, 2]);
        expect(events(f.file)[1]!['data'], step).toMatchObject({ jti: 'jti-5' });
      });
    }
  });

  it('a .rotating whose seal is no longer the end of the live file is dropped, and the live file kept as it is', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      const { rotated } = await appendEvents(f.file, [], f.options({ rotate: true }));
      const sealed = rotated!.sealed;
      // Before the link, but an event follows the seal in the live file (a writer that did not know about .rotating).
      const lastEvent = readFileSync(sealed, 'utf8').split('\n').filter((l) => l.startsWith('{"actor"')).at(-1)!;
      const late = serializeEvent({ kind: 'token.mint', actor: { sub: 'user:x' }, data: { jti: 'late' }, v: 1, seq: 3, ts: '2026-11-22T12:10:00.000Z', log: f.origin, prev: hashLeaf(lastEvent).toString('hex') });
      renameSync(f.file, rotatingFileFor(f.file));
      renameSync(sealed, f.file);
      appendFileSync(f.file, `${late}\n`);
      rmSync(stateFileFor(f.file), { force: true });
      await appendEvents(f.file, [mintEvent(4)], f.options({ forceCheckpoint: true }));
      expect(existsSync(rotatingFileFor(f.file))).toBe(false);
      expect(existsSync(sealed)).toBe(false);
      expect(events(f.file).map((e) => (e['data'] as { jti?: string }).jti)).toEqual([undefined, 'jti-1', 'jti-2', 'late', 'jti-4']);
      expect((await verifyLogFile(f.file, { vkey: f.vkey })).error).toBeNull();
    }));

  it('a .rotating planted by another process cannot have the live file renamed to a name of its choice', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      const last = lines(f.file).at(-1)!;
      // It names the live file's real seal, so only the name is wrong.
      const planted = { actor: { sub: 'user:x' }, data: { origin: f.origin, previous: { file: 'vault.json', note: last['note'], root: last['root'], size: last['size'] }, segment: 2, vkey: f.vkey }, kind: 'log.init', log: f.origin, prev: null, seq: 0, ts: '2026-11-22T13:00:00.000Z', v: 1 };
      writeFileSync(rotatingFileFor(f.file), `${JSON.stringify(planted)}\n`, { mode: 0o600 });
      const before = readFileSync(f.file);
      await appendEvents(f.file, [mintEvent(4)], f.options());
      expect(existsSync(join(f.dir, 'vault.json'))).toBe(false);
      expect(existsSync(rotatingFileFor(f.file))).toBe(false);
      expect(readFileSync(f.file).subarray(0, before.length)).toEqual(before);
      expect(events(f.file).at(-1)!['data']).toMatchObject({ jti: 'jti-4' });
    }));

  it(`writers rotating under each other and kill -9 at random moments: never lose an acknowledged event, every segment and the chain verify`, async () => {
    const origin = 'agentauth.local/rotate-crash';
    const key = await createLogKey(origin);
    const dir = join(shared.dir, 'crash');
    execFileSync('mkdir', ['-p', dir]);
    const file = join(dir, 'audit.jsonl');
    await appendEvents(file, [{ kind: 'log.init', actor: { sub: 'user:t' }, data: { origin, vkey: key.vkey } }], { origin, vkey: key.vkey });
    const env = { ...process.env, LOG_KEY_JWK: key.privateJwk, ROTATE_BYTES: '3000' };
    const acknowledged = new Set<string>();
    for (let round = 0; round < 12; round++) {
      // Two writers at once, both rotating; one of them is killed at a random moment.
      const steady = run(process.execPath, [child, file, origin, key.vkey, '15', 'oneshot', `s${round}`], { env, maxBuffer: 1 << 22 });
      const victim = spawn(process.execPath, [child, file, origin, key.vkey, '-1', 'oneshot', `r${round}`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`round ${round}: no acknowledgement within 30 s`)), 30_000);
        victim.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 150)));
      victim.kill('SIGKILL');
      await new Promise((resolve) => victim.on('close', resolve));
      for (const line of `${out}\n${(await steady).stdout}`.split('\n')) if (/^\d+ \S+$/.test(line)) acknowledged.add(line.split(' ')[1]!);
    }
    // One more append finishes whatever a kill interrupted.
    await appendEvents(file, [mintEvent(0)], { origin, vkey: key.vkey });
    const files = [...listSealedSegments(file), file];
    expect(files.length).toBeGreaterThan(3);
    const chain = await verifySegments(files, { vkey: key.vkey });
    expect(chain.error).toBeNull();
    const present = new Set(files.flatMap((name) => events(name).map((e) => (e['data'] as { jti?: string }).jti)));
    for (const jti of acknowledged) expect(present.has(jti), jti).toBe(true);
    expect(readdirSync(dir).filter((name) => name.endsWith('.rotating'))).toEqual([]);
  }, 300_000);

  it('an appender follows a rotation made by another process: its events are vouched for in the sealed segment', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1, now: () => new Date('2026-11-22T12:30:00.000Z') });
      await appender.append(mintEvent(10));
      await appendEvents(f.file, [mintEvent(11)], f.options({ rotate: true }));
      await appender.append(mintEvent(12));
      await appender.checkpoint();
      await appender.close();
      const chain = await verifySegments(segmentsOf(f), { vkey: f.vkey });
      expect(chain.error).toBeNull();
      expect(chain.segments.at(-1)!.report.uncovered).toBe(0);
      expect(segmentsOf(f).flatMap(events).some((e) => e['kind'] === 'log.rewritten')).toBe(false);
    }));

  it('an appender whose events were removed before another process sealed the log refuses, and marks the new segment', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1, now: () => new Date('2026-11-22T12:30:00.000Z') });
      await appender.append(mintEvent(10));
      await appender.append({ kind: 'gateway.request', actor: { sub: 'agent:coder', jti: 'j1' }, data: { path: '/secret-a' } });
      execFileSync(process.execPath, [REWRITE, f.file, '/secret-', '1']);
      // A one-shot writer cannot tell (the events were not its own): it seals the rewritten log.
      await appendEvents(f.file, [], f.options({ rotate: true }));
      await appender.append(mintEvent(12));
      const refusal = await appender.checkpoint().then(() => null, (error: Error) => error);
      expect(refusal?.message).toMatch(/rewritten: event 4 that this process appended/);
      expect(refusal).toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED' });
      await appender.close();
      expect(events(f.file).find((e) => e['kind'] === 'log.rewritten')).toMatchObject({ data: { missing_seq: 4 } });
      await expect(appendEvents(f.file, [], f.options({ forceCheckpoint: true }))).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED' });
    }));
});

describe('retention: what remains of a rotated log', () => {
  it('verifies after old segments are gzipped or deleted (starting at the signed checkpoint), and not when one in the middle is gone', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      for (let i = 0; i < 3; i++) {
        await appendEvents(f.file, [mintEvent(10 + i)], f.options());
        await appendEvents(f.file, [], f.options({ rotate: true }));
      }
      const [one, two, three] = listSealedSegments(f.file) as [string, string, string];
      // gzip, as a user would (the .gz replaces the file).
      writeFileSync(`${one}.gz`, gzipSync(readFileSync(one)));
      unlinkSync(one);
      const all = await verifySegments([...listSealedSegments(f.file), f.file], { vkey: f.vkey });
      expect(all.error).toBeNull();
      expect(all.segments.map((s) => s.segment)).toEqual([1, 2, 3, 4]);
      expect(all.segments[0]!.file).toBe(`${one}.gz`);
      expect(all.segments[0]!.report.events).toBe(4);
      // A segment missing in the middle is a break, not retention.
      const gap = await verifySegments([`${one}.gz`, three, f.file], { vkey: f.vkey });
      expect(gap.error).toMatchObject({ code: 'SEGMENT_GAP', file: three, message: expect.stringMatching(/segment 2 between audit-000001-20261122.jsonl.gz and audit-000003-20261122.jsonl is missing/) });
      // Delete the two oldest: the rest starts at the checkpoint segment 3's log.init names.
      const sealedTwo = lines(two).at(-1)!;
      rmSync(`${one}.gz`);
      rmSync(two);
      const rest = await verifySegments([three, f.file], { vkey: f.vkey });
      expect(rest.error).toBeNull();
      expect(rest.startsAfter).toMatchObject({ file: 'audit-000002-20261122.jsonl', size: sealedTwo['size'], root: sealedTwo['root'] });
      // A checkpoint kept elsewhere from segment 2's seal: the remaining chain extends it.
      expect((await verifySegments([three, f.file], { vkey: f.vkey, trusted: sealedTwo['note'] as string })).trusted).toMatchObject({ result: 'extends' });
      // One from the live segment, then the live segment rolled back: caught.
      const before = readFileSync(f.file);
      await appendEvents(f.file, [mintEvent(20)], f.options({ forceCheckpoint: true }));
      const head = lines(f.file).at(-1)!['note'] as string;
      writeFileSync(f.file, before);
      rmSync(stateFileFor(f.file), { force: true });
      const rolledBack = await verifySegments([three, f.file], { vkey: f.vkey, trusted: head });
      expect(rolledBack.error).toMatchObject({ code: 'ROLLBACK', file: f.file });
    }));

  it('a segment whose link does not match what precedes it is SEGMENT_LINK', () =>
    withFixture(async (f) => {
      await writeLog(f, 3);
      await appendEvents(f.file, [], f.options({ rotate: true }));
      await appendEvents(f.file, [mintEvent(10)], f.options());
      await appendEvents(f.file, [], f.options({ rotate: true }));
      const [one, two] = listSealedSegments(f.file) as [string, string];
      // Another history signed by the same key under segment 1's name: it verifies alone, but it is not what segment 2 continues.
      const other = { ...f, file: join(f.dir, 'other.jsonl') };
      await writeLog(other, 4);
      copyFileSync(other.file, one);
      expect((await verifyLogFile(one, { vkey: f.vkey })).error).toBeNull();
      const chain = await verifySegments([one, two, f.file], { vkey: f.vkey });
      expect(chain.error).toMatchObject({ code: 'SEGMENT_LINK', file: two, message: expect.stringMatching(/continues audit-000001-20261122.jsonl at size 3, but that segment ends at size 4/) });
    }));
});
