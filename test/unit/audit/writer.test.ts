import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, unlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditAppender } from '../../../src/core/audit/appender.js';
import { createLogKey } from '../../../src/core/audit/log-key.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';
import { appendEvents, stateFileFor, tornFileFor } from '../../../src/core/audit/writer.js';
import { bundleForNode, makeFixture, mintEvent, writeLog, type Fixture } from '../../helpers/audit-log.js';

const run = promisify(execFile);
let fx: Fixture;
let child: string;
let jwk: string;

beforeAll(async () => {
  fx = await makeFixture();
  child = await bundleForNode(join(import.meta.dirname, '../../fixtures/audit/append-child.ts'), join(fx.dir, 'append-child.mjs'));
});
afterAll(() => fx.cleanup());

const readEvents = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((value) => value['kind'] !== 'checkpoint');

async function newLog(name: string): Promise<{ file: string; origin: string; vkey: string }> {
  const origin = `agentauth.local/${name}`;
  const key = await createLogKey(origin);
  jwk = key.privateJwk;
  const file = join(fx.dir, `${name}.jsonl`);
  await appendEvents(file, [{ kind: 'log.init', actor: { sub: 'user:t' }, data: { origin, vkey: key.vkey } }], { origin, vkey: key.vkey });
  return { file, origin, vkey: key.vkey };
}

describe('the audit writer', () => {
  it('starts with log.init, chains, and signs a checkpoint when due', async () => {
    const f = await makeFixture();
    try {
      await appendEvents(f.file, [mintEvent(1)], f.options());
      const events = readEvents(f.file);
      expect(events.map((e) => e['kind'])).toEqual(['log.init', 'token.mint']);
      expect((events[0]!['data'] as Record<string, unknown>)['vkey']).toBe(f.vkey);
      for (let i = 2; i < 12; i++) await appendEvents(f.file, [mintEvent(i)], f.options({ checkpointEvery: { events: 5, ms: 3_600_000 } }));
      const checkpoints = readFileSync(f.file, 'utf8').split('\n').filter((l) => l.startsWith('{"kind":"checkpoint"'));
      expect(checkpoints.map((c) => (JSON.parse(c) as { size: number }).size)).toEqual([5, 10]);
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.ok).toBe(true);
      expect(report.uncovered).toBe(2);
    } finally {
      f.cleanup();
    }
  });

  it('signs an hourly checkpoint, and defers a due one when it cannot sign', async () => {
    const f = await makeFixture();
    try {
      let now = Date.parse('2026-11-22T12:00:00.000Z');
      await writeLog(f, 3);
      const base = { origin: f.origin, vkey: f.vkey, now: () => new Date(now) };
      now += 2 * 3_600_000;
      const unsigned = await appendEvents(f.file, [mintEvent(5)], base);
      expect(unsigned.checkpoint).toBeUndefined();
      const signed = await appendEvents(f.file, [mintEvent(6)], { ...base, signer: () => f.signer });
      expect(signed.checkpoint?.size).toBe(5);
      expect((await verifyLogFile(f.file, { vkey: f.vkey })).uncovered).toBe(0);
    } finally {
      f.cleanup();
    }
  });

  it('uses the frontier cache, and rebuilds it when missing, stale or lying', async () => {
    const f = await makeFixture();
    try {
      await writeLog(f, 10);
      const state = stateFileFor(f.file);
      expect(existsSync(state)).toBe(true);
      unlinkSync(state);
      await appendEvents(f.file, [mintEvent(11)], f.options({ forceCheckpoint: true }));
      writeFileSync(state, JSON.stringify({ ...JSON.parse(readFileSync(state, 'utf8')), frontier: ['00'.repeat(32)], events: 1, checkpointSize: 1 }));
      await appendEvents(f.file, [mintEvent(12)], f.options({ forceCheckpoint: true }));
      writeFileSync(state, '{not json');
      await appendEvents(f.file, [mintEvent(13)], f.options({ forceCheckpoint: true }));
      // Another writer appended behind the cache's back: it is extended by a scan.
      const stale = readFileSync(state, 'utf8');
      await appendEvents(f.file, [mintEvent(14)], f.options());
      writeFileSync(state, stale);
      await appendEvents(f.file, [mintEvent(15)], f.options({ forceCheckpoint: true }));
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.error).toBeNull();
      expect(report.events).toBe(15);
      expect(report.checkpoints).toBe(5);
    } finally {
      f.cleanup();
    }
  });

  it('moves a torn last line aside and records log.recover', async () => {
    const f = await makeFixture();
    try {
      await writeLog(f, 4);
      const size = readFileSync(f.file).length;
      const fragment = '{"actor":{"sub":"user:tester"},"data":{"agent":"ha';
      appendFileSync(f.file, fragment);
      expect((await verifyLogFile(f.file, { vkey: f.vkey })).warnings.map((w) => w.code)).toEqual(['TORN_TAIL']);
      const result = await appendEvents(f.file, [mintEvent(9)], f.options({ forceCheckpoint: true }));
      expect(result.recovered).toMatchObject({ offset: size, length: fragment.length });
      expect(readFileSync(tornFileFor(f.file, size), 'utf8')).toBe(fragment);
      const events = readEvents(f.file);
      const recover = events.find((e) => e['kind'] === 'log.recover')!;
      expect(recover['data']).toMatchObject({ offset: size, length: fragment.length });
      expect(events.at(-1)!['kind']).toBe('token.mint');
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.error).toBeNull();
      expect(report.warnings).toEqual([]);
    } finally {
      f.cleanup();
    }
  });

  it('refuses to write another install’s log', async () => {
    const f = await makeFixture();
    try {
      await writeLog(f, 2);
      await expect(appendEvents(f.file, [mintEvent(1)], { origin: 'agentauth.local/else', vkey: f.vkey })).rejects.toMatchObject({ code: 'AUDIT_ORIGIN_MISMATCH' });
    } finally {
      f.cleanup();
    }
  });

  it('group commit: concurrent appends share fsyncs and all land, in order', async () => {
    const f = await makeFixture();
    try {
      await writeLog(f, 1);
      const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxBatch: 64 });
      const seqs = await Promise.all(Array.from({ length: 2500 }, (_, i) => appender.append(mintEvent(i))));
      await appender.checkpoint();
      await appender.close();
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.error).toBeNull();
      expect(report.events).toBe(2501);
      expect(report.uncovered).toBe(0);
      expect(report.checkpoints).toBeGreaterThanOrEqual(3);
    } finally {
      f.cleanup();
    }
  });

  it('8 processes × 200 appends at once: exactly 1,600 events, contiguous, verifies', async () => {
    for (const mode of ['oneshot', 'appender']) {
      const log = await newLog(`conc-${mode}`);
      const outputs = await Promise.all(
        Array.from({ length: 8 }, (_, p) => run(process.execPath, [child, log.file, log.origin, log.vkey, '200', mode, `p${p}`], { env: { ...process.env, LOG_KEY_JWK: jwk }, maxBuffer: 1 << 24 })),
      );
      const reported = outputs.flatMap((o) => o.stdout.trim().split('\n'));
      expect(reported).toHaveLength(1600);
      const events = readEvents(log.file);
      expect(events).toHaveLength(1601);
      expect(events.map((e) => e['seq'])).toEqual(Array.from({ length: 1601 }, (_, i) => i));
      for (let p = 0; p < 8; p++) expect(events.filter((e) => (e['data'] as Record<string, unknown>)['agent'] === `p${p}`)).toHaveLength(200);
      const report = await verifyLogFile(log.file, { vkey: log.vkey });
      expect(report.error, mode).toBeNull();
    }
  }, 240_000);

  it('kill -9 at random moments: never loses an acknowledged event, always verifies', async () => {
    const log = await newLog('crash');
    const acknowledged = new Set<string>();
    for (let round = 0; round < 24; round++) {
      const proc = spawn(process.execPath, [child, log.file, log.origin, log.vkey, '-1', 'oneshot', `r${round}`], { env: { ...process.env, LOG_KEY_JWK: jwk }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      // Kill at a random moment after the first acknowledgement, not after a fixed delay from
      // spawn: on a loaded CI machine the child may still be starting when a fixed timer fires,
      // and the round would then test nothing.
      const firstAck = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`round ${round}: no acknowledgement within 30 s`)), 30_000);
        proc.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await firstAck;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 200)));
      proc.kill('SIGKILL');
      await new Promise((resolve) => proc.on('close', resolve));
      for (const line of out.split('\n')) if (/^\d+ \S+$/.test(line)) acknowledged.add(line);
      const report = await verifyLogFile(log.file, { vkey: log.vkey });
      expect(report.error, `round ${round}`).toBeNull();
      expect(report.warnings.map((w) => w.code).filter((c) => c !== 'TORN_TAIL' && c !== 'UNCOVERED_TAIL')).toEqual([]);
    }
    const present = new Set(readEvents(log.file).map((e) => `${String(e['seq'])} ${String((e['data'] as Record<string, unknown>)['jti'])}`));
    // Every round was killed after at least one acknowledgement, with distinct jtis per round.
    expect(acknowledged.size).toBeGreaterThanOrEqual(24);
    for (const entry of acknowledged) expect(present.has(entry), entry).toBe(true);
    // The writer repairs any torn tail on the next append.
    await appendEvents(log.file, [mintEvent(0)], { origin: log.origin, vkey: log.vkey });
    const after = await verifyLogFile(log.file, { vkey: log.vkey });
    expect(after.error).toBeNull();
    expect(after.warnings.map((w) => w.code).filter((c) => c === 'TORN_TAIL')).toEqual([]);
    expect(readdirSync(fx.dir).filter((name) => name.startsWith('crash.jsonl.torn-')).length).toBe(readEvents(log.file).filter((e) => e['kind'] === 'log.recover').length);
  }, 240_000);
});
