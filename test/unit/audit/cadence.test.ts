// Automatic checkpoints (cadence.ts): 1000 events, an hour, or a new clock hour.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CADENCE, isCheckpointDue } from '../../../src/core/audit/cadence.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';
import { appendEvents } from '../../../src/core/audit/writer.js';
import { makeFixture, mintEvent } from './helpers.js';

const at = (iso: string) => Date.parse(iso);

// An hourly cron job: cron starts it on the hour, and node, the keystore and the
// script itself take between 0.2 s and 2 min before the mint lands. Runs whose
// start-up was quicker than the previous run's find less than an hour on the clock.
const delays = [200, 45_000, 1_500, 120_000, 300, 800, 61_000, 250, 2_000, 90_000, 400, 30_000];
const schedule = Array.from({ length: 48 }, (_, i) => Date.parse('2026-11-22T10:00:00.000Z') + i * 3_600_000 + delays[i % delays.length]!);

describe('checkpoint cadence', () => {
  it('is due after 1000 uncovered events, after an hour, or in a later clock hour; never for nothing', () => {
    const last = at('2026-11-22T10:59:59.000Z');
    expect(isCheckpointDue(0, last + 10 * 3_600_000, last)).toBe(false);
    expect(isCheckpointDue(1000, last + 1, last)).toBe(true);
    expect(isCheckpointDue(999, last + 1, last)).toBe(false);
    expect(isCheckpointDue(1, at('2026-11-22T11:00:00.500Z'), last)).toBe(true);
    expect(isCheckpointDue(1, at('2026-11-22T10:00:00.000Z') + 3_600_000 - 1, at('2026-11-22T10:00:00.000Z'))).toBe(false);
    expect(isCheckpointDue(1, at('2026-11-22T10:30:00.000Z') + 3_600_000, at('2026-11-22T10:30:00.000Z'))).toBe(true);
    // A clock set back is not a new hour.
    expect(isCheckpointDue(1, at('2026-11-22T09:00:00.000Z'), last)).toBe(false);
    expect(isCheckpointDue(1, last, null)).toBe(false);
    expect(DEFAULT_CADENCE).toEqual({ events: 1000, ms: 3_600_000 });
  });

  it('this schedule defeats the plain "an hour since the last checkpoint" rule', () => {
    let lastCovered = schedule[0]!;
    let missed = 0;
    for (const now of schedule.slice(1)) {
      if (now - lastCovered >= 3_600_000) lastCovered = now;
      else missed += 1;
    }
    expect(missed).toBeGreaterThan(5);
  });

  it('a cron job that mints once an hour gets a checkpoint at every run, whatever the start-up jitter', async () => {
    const f = await makeFixture();
    try {
      let now = Date.parse('2026-11-22T09:58:30.000Z');
      const options = (extra = {}) => ({ origin: f.origin, vkey: f.vkey, signer: () => f.signer, now: () => new Date(now), ...extra });
      await appendEvents(f.file, [{ kind: 'log.init', actor: { sub: 'user:tester' }, data: { origin: f.origin, vkey: f.vkey } }, mintEvent(0)], options({ forceCheckpoint: true }));
      for (const [i, time] of schedule.entries()) {
        now = time;
        const result = await appendEvents(f.file, [mintEvent(i + 1)], options());
        expect(result.checkpoint?.size, new Date(time).toISOString()).toBe(i + 3);
      }
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.error).toBeNull();
      expect(report.uncovered).toBe(0);
      expect(report.checkpoints).toBe(schedule.length + 1);
    } finally {
      f.cleanup();
    }
  });

  it('several appends within one clock hour share one checkpoint', async () => {
    const f = await makeFixture();
    try {
      let now = Date.parse('2026-11-22T10:00:01.000Z');
      const options = () => ({ origin: f.origin, vkey: f.vkey, signer: () => f.signer, now: () => new Date(now) });
      await appendEvents(f.file, [{ kind: 'log.init', actor: { sub: 'user:tester' }, data: { origin: f.origin, vkey: f.vkey } }], { ...options(), forceCheckpoint: true });
      const signed: boolean[] = [];
      for (const minute of [5, 20, 59, 61, 75, 119, 121]) {
        now = Date.parse('2026-11-22T10:00:00.000Z') + minute * 60_000;
        signed.push((await appendEvents(f.file, [mintEvent(minute)], options())).checkpoint !== undefined);
      }
      expect(signed).toEqual([false, false, false, true, false, false, true]);
    } finally {
      f.cleanup();
    }
  });
});
