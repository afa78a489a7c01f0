import { describe, expect, it } from 'vitest';
import { findSetting, parseSettingValues, readRotateBytes, readSettings, SETTINGS, sizeInBytes } from '../../../src/core/settings.js';

describe('settings', () => {
  it('run.sandbox takes exactly one of required, auto, off', () => {
    const spec = findSetting('run.sandbox');
    expect(parseSettingValues(spec, ['required'])).toBe('required');
    expect(() => parseSettingValues(spec, ['maybe'])).toThrow(/one of: required, auto, off/);
    expect(() => parseSettingValues(spec, ['auto', 'off'])).toThrow(expect.objectContaining({ kind: 'usage' }));
    expect(() => parseSettingValues(spec, [])).toThrow(/needs a value/);
  });

  it('path lists take absolute or ~/ paths, not relative ones, nor everything', () => {
    const spec = findSetting('run.sandbox-hide');
    expect(parseSettingValues(spec, ['~/.ssh', '/etc/secret', '~/.ssh'])).toEqual(['~/.ssh', '/etc/secret']);
    expect(() => parseSettingValues(spec, ['.ssh'])).toThrow(/neither absolute nor under ~\//);
    expect(() => parseSettingValues(spec, ['/'])).toThrow(/too much/);
    expect(() => parseSettingValues(spec, ['~'])).toThrow(/too much/);
  });

  it('unknown keys are a usage error that lists the known ones', () => {
    expect(() => findSetting('run.sandboxx')).toThrow(expect.objectContaining({ kind: 'usage', hint: expect.stringContaining('run.sandbox, run.sandbox-hide, run.sandbox-ro') }));
    expect(SETTINGS.map((spec) => spec.key)).toEqual(['run.sandbox', 'run.sandbox-hide', 'run.sandbox-ro', 'audit.rotate-bytes']);
  });

  it('audit.rotate-bytes takes a size of at least 4K (K, M, G) or off, and an invalid stored one stops appends loudly', () => {
    const spec = findSetting('audit.rotate-bytes');
    expect(parseSettingValues(spec, ['16m'])).toBe('16M');
    expect(parseSettingValues(spec, ['OFF'])).toBe('off');
    expect(parseSettingValues(spec, ['4096'])).toBe('4096');
    for (const bad of [['4095'], ['3K'], ['1.5M'], ['10T'], ['-1'], ['16M', '32M']]) expect(() => parseSettingValues(spec, bad), bad.join(' ')).toThrow(expect.objectContaining({ kind: 'usage' }));
    expect(sizeInBytes('64M')).toBe(64 * 1024 * 1024);
    expect(readRotateBytes({})).toBe(64 * 1024 * 1024);
    expect(readRotateBytes({ settings: { 'audit.rotate-bytes': 'off' } })).toBeUndefined();
    expect(readRotateBytes({ settings: { 'audit.rotate-bytes': '1G', 'run.sandbox': 'bogus' } })).toBe(1024 ** 3);
    expect(() => readRotateBytes({ settings: { 'audit.rotate-bytes': 12 } })).toThrow(expect.objectContaining({ code: 'BAD_SETTING', hint: expect.stringContaining('config set audit.rotate-bytes') }));
  });

  it('a hand-edited config with a bad value stops loudly instead of weakening the sandbox', () => {
    expect(readSettings({ settings: { 'run.sandbox': 'off', 'run.sandbox-hide': ['~/.aws'] } })).toEqual({ 'run.sandbox': 'off', 'run.sandbox-hide': ['~/.aws'] });
    expect(readSettings({})).toEqual({});
    expect(() => readSettings({ settings: { 'run.sandbox': 'of' } })).toThrow(/invalid setting "run.sandbox"/);
    expect(() => readSettings({ settings: { 'run.sandbox-hide': 'not-a-list' } })).toThrow(/invalid setting/);
    expect(() => readSettings({ settings: { 'run.sandbox-hide': ['relative'] } })).toThrow(/invalid setting/);
    expect(() => readSettings({ settings: { 'run.unknown': 1 } })).toThrow(expect.objectContaining({ hint: expect.stringContaining('config unset run.unknown') }));
  });
});
