import { existsSync, readFileSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuditAppender } from '../../../src/core/audit/appender.js';
import { verifyLogFile } from '../../../src/core/audit/verify.js';
import { stateFileFor } from '../../../src/core/audit/writer.js';
import { createAuditSink } from '../../../src/core/gateway/audit-sink.js';
import { makeFixture, mintEvent, type Fixture } from '../../helpers/audit-log.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('the gateway audit sink', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await makeFixture();
  });
  afterEach(() => f.cleanup());

  it('holds a burst for the group-commit window, writes it as one append, and ends with run.end and a checkpoint', async () => {
    const errors: unknown[] = [];
    const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 300, onError: (error) => errors.push(error) });
    const sink = createAuditSink(appender);
    for (let i = 0; i < 50; i += 1) sink.push(mintEvent(i));
    await sleep(5);
    sink.push(mintEvent(50));
    // Inside the window nothing is written yet: the events wait for company.
    expect(existsSync(f.file)).toBe(false);
    expect(sink.pending()).toBe(51);
    const deadline = Date.now() + 10_000;
    while (!existsSync(f.file) && Date.now() < deadline) await sleep(10);
    while (sink.pending() > 0 && Date.now() < deadline) await sleep(10);
    await sleep(50);
    // log.init plus all 51, in one append:
    expect(lines(f.file).map((line) => line['seq'])).toEqual(Array.from({ length: 52 }, (_, i) => i));
    // The cache is saved by the first write only (the next save is due a second later), so it shows that write's size.
    expect((JSON.parse(readFileSync(stateFileFor(f.file), 'utf8')) as { events: number }).events).toBe(52);

    sink.push(mintEvent(51));
    await sink.close([{ kind: 'run.end', actor: { sub: 'user:tester' }, data: { agent: 'coder', exit_code: 0 } }]);
    const all = lines(f.file);
    expect(all.slice(-2).map((line) => line['kind'])).toEqual(['run.end', 'checkpoint']);
    expect(all.filter((line) => line['kind'] === 'token.mint')).toHaveLength(52);
    const report = await verifyLogFile(f.file, { vkey: f.vkey });
    expect(report.error).toBeNull();
    expect(report.uncovered).toBe(0);
    // Closed: later events are dropped, not written after the checkpoint.
    const size = statSync(f.file).size;
    sink.push(mintEvent(99));
    await sleep(20);
    expect(statSync(f.file).size).toBe(size);
    expect(errors).toEqual([]);
  });

  it('saves the state cache at most once per interval, and always on close', async () => {
    const appender = createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, signer: f.signer, maxDelayMs: 1, saveStateEveryMs: 60_000 });
    await appender.append(mintEvent(0));
    const first = readFileSync(stateFileFor(f.file), 'utf8');
    for (let i = 1; i < 5; i += 1) await appender.append(mintEvent(i));
    expect(readFileSync(stateFileFor(f.file), 'utf8')).toBe(first);
    await appender.close();
    const saved = JSON.parse(readFileSync(stateFileFor(f.file), 'utf8')) as { events: number; bytes: number };
    expect(saved.events).toBe(6);
    expect(saved.bytes).toBe(statSync(f.file).size);
  });

  it('reports a failed write to onError and keeps accepting events', async () => {
    const errors: unknown[] = [];
    // A log that belongs to another install cannot be written.
    const other = createAuditAppender({ file: f.file, origin: 'agentauth.local/another-install', vkey: f.vkey, maxDelayMs: 1 });
    await other.append(mintEvent(0));
    await other.close();
    const sink = createAuditSink(createAuditAppender({ file: f.file, origin: f.origin, vkey: f.vkey, maxDelayMs: 1, onError: (error) => errors.push(error) }));
    sink.push(mintEvent(1));
    await sleep(50);
    sink.push(mintEvent(2));
    await expect(sink.close([])).rejects.toMatchObject({ code: 'AUDIT_ORIGIN_MISMATCH' });
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({ code: 'AUDIT_ORIGIN_MISMATCH' });
  });
});
