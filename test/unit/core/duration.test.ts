import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/core/duration.js';
import { validateName } from '../../../src/core/names.js';

describe('durations', () => {
  it('parses the four units', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('7d')).toBe(604_800);
  });
  it('rejects anything else with a usage error naming the format', () => {
    for (const bad of ['', '0s', '1', 'h', '1.5h', '-1m', '1w', '1h30m', ' 1x']) {
      expect(() => parseDuration(bad), bad).toThrow(expect.objectContaining({ code: 'BAD_DURATION', kind: 'usage' }));
    }
  });
  it('formats back to the shortest exact unit', () => {
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(90)).toBe('90s');
    expect(formatDuration(900)).toBe('15m');
  });
});

describe('names', () => {
  it('accepts the spec pattern and rejects the rest', () => {
    for (const good of ['a', 'home-monitor', 'x.y_z-1', '0', 'a'.repeat(63)]) expect(validateName(good, 'agent')).toBe(good);
    for (const bad of ['', 'Home', '-a', '.a', 'a b', 'a/b', 'a'.repeat(64), 'é']) {
      expect(() => validateName(bad, 'agent'), bad).toThrow(expect.objectContaining({ code: 'BAD_NAME', kind: 'usage' }));
    }
  });
});
