// Property-based: the real gateway (in process, real sockets and TLS) against
// generated requests — methods, target forms, schemes, host spellings, path
// encodings, headers in every case and position, placeholders everywhere,
// upgrades — and generated answers carrying the real values under every
// coding. The invariant is in fuzz-cases.ts. A fixed seed here; run longer
// with `npm run fuzz` (FUZZ_RUNS, FUZZ_SEED).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkGatewayProperty } from '../../fixtures/gateway/fuzz-cases.js';
import { startFuzzWorld, type FuzzWorld } from '../../fixtures/gateway/fuzz-world.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 4000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 8_2026);

let world: FuzzWorld;
beforeAll(async () => {
  world = await startFuzzWorld();
});
afterAll(async () => {
  await world?.close();
});

describe('gateway fuzz', () => {
  it(`a real value reaches only its bound upstream, in its declared place, and never the child or the log (${RUNS} cases, seed ${SEED})`, async () => {
    const details = await checkGatewayProperty(world, { numRuns: RUNS, seed: SEED });
    if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'the property failed');
    // The generator must reach the interesting states, or the property proves little.
    const swapped = world.events.filter((event) => event.data.decision === 'allow' && event.data.secret !== null).length;
    const reasons = new Set(world.events.map((event) => event.data.reason));
    expect(swapped, 'requests that carried a real value upstream').toBeGreaterThan(RUNS / 50);
    // Several placements and HTTP Basic are reached too.
    const allowed = (secret: string) => world.events.filter((event) => event.data.decision === 'allow' && event.data.secret?.split(',').includes(secret)).length;
    expect(allowed('git'), 'Basic swaps').toBeGreaterThan(RUNS / 500);
    expect(world.seen.some((seen) => seen.rawHeaders.some((value, i) => i % 2 === 0 && value.toLowerCase() === 'x-alt-key' && seen.rawHeaders[i + 1]!.includes('sk-fuzz-HDR')))).toBe(true);
    for (const reason of ['placeholder-misplaced', 'not-granted', 'scheme-mismatch', 'host-mismatch', 'undecodable-response', 'duplicate-host']) expect(reasons, reason).toContain(reason);
    expect(world.gateway.stats.unauthenticated).toBeGreaterThan(0);
    expect(world.seen.some((seen) => seen.server === 'local' && seen.rawHeaders.some((value) => value.includes('local-fuzz')))).toBe(true);
  }, Math.max(180_000, RUNS * 60));
});
