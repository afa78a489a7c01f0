// `config list | get KEY | set KEY VALUE… | unset KEY`: the settings table in
// core/settings.ts, stored in config.json (atomically, under the config lock).
import { requireConfig, updateConfig } from '../core/config.js';
import { findSetting, parseSettingValues, readSettings, SETTINGS, type SettingKey } from '../core/settings.js';
import { renderSettings } from '../ui/render-config.js';
import { recordEvents } from './audit-events.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

export interface SettingView {
  key: SettingKey;
  value: string | string[];
  /** False when the value is the default. */
  set: boolean;
  description: string;
}

function viewSettings(ctx: Context): SettingView[] {
  const settings = readSettings(requireConfig(ctx.paths));
  return SETTINGS.map((spec) => {
    const value = settings[spec.key];
    return { key: spec.key, value: value ?? spec.default, set: value !== undefined, description: spec.description };
  });
}

export async function listConfigCommand(ctx: Context): Promise<CommandResult> {
  const settings = viewSettings(ctx);
  return { data: { settings }, render: (style) => renderSettings(settings, style) };
}

export async function getConfigCommand(ctx: Context, key: string): Promise<CommandResult> {
  const spec = findSetting(key);
  const view = viewSettings(ctx).find((setting) => setting.key === spec.key)!;
  // One value a line: lists read well in `while read` loops.
  return { data: { key: view.key, value: view.value, set: view.set }, render: () => (Array.isArray(view.value) ? view.value.join('\n') : view.value) };
}

export async function setConfigCommand(ctx: Context, key: string, values: string[]): Promise<CommandResult> {
  const spec = findSetting(key);
  const value = parseSettingValues(spec, values);
  const { config } = await updateConfig(ctx.paths, (current) => {
    current.settings = { ...current.settings, [spec.key]: value };
  });
  await recordEvents(ctx, config, [{ kind: 'config.set', actor: ctx.actor, data: { key: spec.key, value } }]);
  return { data: { key: spec.key, value }, render: (style) => `${style.green('Set')} ${spec.key} = ${Array.isArray(value) ? value.join(' ') : value}` };
}

export async function unsetConfigCommand(ctx: Context, key: string): Promise<CommandResult> {
  // A key config.json holds but this version does not know can be removed too.
  const known = SETTINGS.some((spec) => spec.key === key);
  const { config, result: removed } = await updateConfig(ctx.paths, (current) => {
    const settings = { ...(current.settings as Record<string, unknown> | undefined) };
    if (!(key in settings)) return false;
    delete settings[key];
    current.settings = settings;
    return true;
  });
  if (!removed && !known) findSetting(key);
  if (removed) await recordEvents(ctx, config, [{ kind: 'config.unset', actor: ctx.actor, data: { key } }]);
  const fallback = SETTINGS.find((spec) => spec.key === key)?.default;
  return {
    data: { key, removed, ...(fallback !== undefined ? { value: fallback } : {}) },
    render: (style) => (removed ? `${style.green('Unset')} ${key}${fallback !== undefined ? ` (default: ${Array.isArray(fallback) ? fallback.join(' ') || 'none' : fallback})` : ''}` : `${key} was not set`),
  };
}
