// run's heap tuning (src/commands/run/heap.ts): every V8 flag it sets exists
// in the V8 of the Node running the tests (CI runs them on Node 20 and 24),
// since V8 prints "Error: unrecognized flag" into the terminal otherwise; and
// AGENTAUTH_NO_HEAP_TUNING=1 turns it off.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { HEAP_FLAGS, shouldTuneHeap, TUNED_NODE_MAJORS } from '../../../src/commands/run/heap.js';

describe('heap tuning', () => {
  it(`every flag exists in this Node's V8 (${process.version}), which is one of the tuned majors`, () => {
    expect(TUNED_NODE_MAJORS).toContain(Number(process.versions.node.split('.')[0]));
    const options = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8', maxBuffer: 16 << 20 });
    for (const flag of HEAP_FLAGS) expect(options, flag).toMatch(new RegExp(`^\\s+--${flag}\\b`, 'm'));
  });

  it('is off with AGENTAUTH_NO_HEAP_TUNING=1 and on a Node major nobody checked', () => {
    expect(shouldTuneHeap({}, '20.19.0')).toBe(true);
    expect(shouldTuneHeap({ AGENTAUTH_NO_HEAP_TUNING: '1' }, '20.19.0')).toBe(false);
    expect(shouldTuneHeap({}, '26.0.0')).toBe(false);
    expect(shouldTuneHeap({}, '18.20.0')).toBe(false);
  });
});
