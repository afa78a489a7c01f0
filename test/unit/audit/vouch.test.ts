// The writer's check before it signs (vouch.ts), against the attacks of
// audit-log.md "Writers": a same-user process that rewrites the log between
// a writer's appends, or edits the `.state` cache.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditAppender } from '../../../src/core/audit/appender.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';
import { appendEvents, stateFileFor } from '../../../src/core/audit/writer.js';
import { makeFixture, mintEvent, writeLog, type Fixture } from './helpers.js';

const REWRITE = join(import.meta.dirname, '../../fixtures/audit/rewrite-log.mjs');
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
const requestEvent = (path: string) => ({ kind: 'gateway.request', actor: { sub: 'agent:coder', jti: 'j1' }, data: { method: 'GET', host: 'api.example.com', path, status: 200 } });

let f: Fixture;
beforeEach(async () => {
  f = await makeFixture();
  await writeLog(f, 5); // ends with a checkpoint of size 5
});
afterEach(() => f.cleanup());

describe('a writer signs only a log it can vouch for', () => {
  it('an appender whose events were removed and the chain re-linked (and .state deleted) refuses, and says so in the log', async () => {
    // (Within the hour of the log's last checkpoint: no automatic checkpoint comes between the appends and the rewrite.)
    const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1, now: () => new Date('2026-11-22T12:30:00.000Z') });
    await appender.append(mintEvent(10));
    await appender.append(requestEvent('/secret-a'));
    await appender.append(requestEvent('/secret-b'));
    execFileSync(process.execPath, [REWRITE, f.file, '/secret-', '2']);
    expect(lines(f.file).filter((line) => JSON.stringify(line).includes('/secret-'))).toEqual([]);
    await appender.append({ kind: 'run.end', actor: { sub: 'user:tester' }, data: {} });
    await expect(appender.checkpoint()).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED', kind: 'checkFailed', message: expect.stringMatching(/rewritten: event 6 that this process appended/) });
    await appender.close();
    const after = lines(f.file);
    expect(after.filter((line) => line['kind'] === 'checkpoint')).toHaveLength(1);
    expect(after.at(-1)).toMatchObject({ kind: 'log.rewritten', data: { missing_seq: 6 } });
    // Internally consistent, so only --strict (the uncovered tail) fails.
    const report = await verifyLogFile(f.file, { vkey: f.vkey });
    expect(report.ok).toBe(true);
    expect(report.uncovered).toBeGreaterThan(0);
    // No later writer signs over it either.
    await expect(appendEvents(f.file, [], f.options({ forceCheckpoint: true }))).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED', message: expect.stringMatching(/log\.rewritten/) });
    expect(lines(f.file).filter((line) => line['kind'] === 'checkpoint')).toHaveLength(1);
  });

  it('the same rewrite of events it did not write itself is not noticed by a one-shot writer (the limit of the rule)', async () => {
    await appendEvents(f.file, [requestEvent('/other-a')], f.options());
    execFileSync(process.execPath, [REWRITE, f.file, '/other-', '1']);
    rmSync(stateFileFor(f.file), { force: true });
    const result = await appendEvents(f.file, [mintEvent(11)], f.options({ forceCheckpoint: true }));
    expect(result.checkpoint).toBeDefined();
    expect((await verifyLogFile(f.file, { vkey: f.vkey })).ok).toBe(true);
  });

  it('a forged checkpoint (no log key) makes every writer refuse, with no marker', async () => {
    await appendEvents(f.file, [mintEvent(6)], f.options());
    const all = lines(f.file);
    const real = all.filter((line) => line['kind'] === 'checkpoint').at(-1)!;
    // Another signature over another root: the attacker's "checkpoint" for 6 events.
    writeFileSync(f.file, `${readFileSync(f.file, 'utf8')}${JSON.stringify({ ...real, size: 6 })}\n`);
    rmSync(stateFileFor(f.file), { force: true });
    await expect(appendEvents(f.file, [mintEvent(7)], f.options({ forceCheckpoint: true }))).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED', message: expect.stringMatching(/CHECKPOINT_MISMATCH/) });
    expect(lines(f.file).some((line) => line['kind'] === 'log.rewritten')).toBe(false);
  });

  it('a log replaced under an appender (truncated, or moved aside) is refused, but the new log is not marked', async () => {
    // (A clock within the hour of the log's last checkpoint: no automatic checkpoint gives the appender an anchor of its own.)
    const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1, now: () => new Date('2026-11-22T12:30:00.000Z') });
    await appender.append(mintEvent(10));
    truncateSync(f.file, 0);
    rmSync(stateFileFor(f.file), { force: true });
    await appender.append(mintEvent(11));
    await expect(appender.checkpoint()).rejects.toMatchObject({ code: 'AUDIT_CHECKPOINT_REFUSED', message: expect.stringMatching(/event 5 that this process appended/) });
    await appender.close();
    expect(lines(f.file).map((line) => line['kind'])).toEqual(['log.init', 'token.mint']);
    // Another writer can start signing the new log.
    expect((await appendEvents(f.file, [mintEvent(12)], f.options({ forceCheckpoint: true }))).checkpoint?.size).toBe(3);
  });

  it('checkpoints written by other processes in between are verified and followed, not refused', async () => {
    const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1 });
    for (let round = 0; round < 3; round++) {
      await appender.append(mintEvent(20 + round));
      await appendEvents(f.file, [mintEvent(30 + round)], f.options({ forceCheckpoint: true }));
      await appender.append(mintEvent(40 + round));
      await appender.checkpoint();
    }
    await appender.close();
    const report = await verifyLogFile(f.file, { vkey: f.vkey });
    expect(report.error).toBeNull();
    expect(report.uncovered).toBe(0);
    expect(report.checkpoints).toBeGreaterThanOrEqual(7);
  });
});

describe('the .state cache decides nothing', () => {
  it('a hash edited in the cached anchor or tail does not get signed', async () => {
    const stateFile = stateFileFor(f.file);
    for (const edit of ['anchor', 'lastLeaf'] as const) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { anchor: { frontier: string[] }; lastLeaf: string };
      const flip = (hex: string) => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}`;
      if (edit === 'anchor') state.anchor.frontier[0] = flip(state.anchor.frontier[0]!);
      else state.lastLeaf = flip(state.lastLeaf);
      writeFileSync(stateFile, JSON.stringify(state));
      await appendEvents(f.file, [mintEvent(50)], f.options());
      await appendEvents(f.file, [mintEvent(51)], f.options({ forceCheckpoint: true }));
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.error, edit).toBeNull();
      expect(report.uncovered, edit).toBe(0);
    }
  });

  it('a .state that is a symbolic link is refused, and nothing is written through it', async () => {
    const victim = join(f.dir, 'victim');
    writeFileSync(victim, 'keep\n');
    rmSync(stateFileFor(f.file));
    execFileSync('ln', ['-s', victim, stateFileFor(f.file)]);
    await expect(appendEvents(f.file, [mintEvent(6)], f.options())).rejects.toMatchObject({ code: 'SYMLINK_REFUSED' });
    expect(readFileSync(victim, 'utf8')).toBe('keep\n');
  });

  it('a link planted at the old predictable temp name of the cache is not written through', async () => {
    const victim = join(f.dir, 'victim');
    writeFileSync(victim, 'keep\n');
    execFileSync('ln', ['-s', victim, `${stateFileFor(f.file)}.${process.pid}.tmp`]);
    await appendEvents(f.file, [mintEvent(6)], f.options());
    expect(readFileSync(victim, 'utf8')).toBe('keep\n');
  });
});
