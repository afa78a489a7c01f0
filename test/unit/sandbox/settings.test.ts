import { describe, expect, it } from 'vitest';
import { findSetting, parseSettingValues, readSettings, SETTINGS } from '../../../src/core/settings.js';

describe('settings', () => {
  it('run.sandbox takes exactly one of required, auto, off', () => {
    const spec = findSetting('run.sandbox');
    expect(parseSettingValues(spec, ['required'])).toBe('required');
    expect(() => parseSettingValues(spec, ['maybe'])).toThrow(/one of: required, auto, off/);
    expect(() => parseSettingValues(spec, ['auto', 'off'])).toThrow(expect.objectContaining({ exitCode: 2 }));
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
    expect(() => findSetting('run.sandboxx')).toThrow(expect.objectContaining({ exitCode: 2, hint: expect.stringContaining('run.sandbox, run.sandbox-hide, run.sandbox-ro') }));
    expect(SETTINGS.map((spec) => spec.key)).toEqual(['run.sandbox', 'run.sandbox-hide', 'run.sandbox-ro']);
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
