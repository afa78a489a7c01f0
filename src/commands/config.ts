// `config list | get KEY | set KEY VALUE… | unset KEY`: the settings table in
// core/settings.ts, stored in config.json (atomically, under the config lock),
// and the few fields of config.json itself that may change after init (FIELDS).
import { requireConfig, updateConfig, type Config } from '../core/config.js';
import { usageError } from '../core/errors.js';
import { validateIssuer } from '../core/install.js';
import { findSetting, parseSettingValues, readSettings, SETTINGS } from '../core/settings.js';
import { renderSettings } from '../ui/render-config.js';
import { recordEvents } from './audit-events.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';
import type { SettingView } from '../ui/render-config.js';

interface Field {
  description: string;
  get(config: Config): string;
  /** Checks and applies `value`; returns a note for the user, if any. */
  set(config: Config, value: string): string | null;
}

type FieldKey = 'issuer';

/** Fields of config.json itself, not under "settings": always set, never unset. */
const FIELDS: Record<FieldKey, Field> = {
  issuer: {
    description: 'the iss claim of new tokens; a URL when agentauth serve publishes the keys (iss + /.well-known/jwks.json)',
    get: (config) => config.issuer,
    set(config, value) {
      const problem = validateIssuer(value);
      if (problem) throw usageError('BAD_ISSUER', `invalid issuer ${JSON.stringify(value)}: ${problem}`);
      const previous = config.issuer;
      config.issuer = value;
      return previous === value ? null : `new tokens carry iss ${value}; services that check iss ${previous} must be told`;
    },
  },
};

function findField(key: string): Field | null {
  return Object.hasOwn(FIELDS, key) ? FIELDS[key as FieldKey] : null;
}

function viewSettings(ctx: Context): SettingView[] {
  const config = requireConfig(ctx.paths);
  const settings = readSettings(config);
  const fields = Object.entries(FIELDS).map(([key, field]) => ({ key: key as FieldKey, value: field.get(config), set: true, description: field.description }));
  return [
    ...fields,
    ...SETTINGS.map((spec) => {
      const value = settings[spec.key];
      return { key: spec.key, value: value ?? spec.default, set: value !== undefined, description: spec.description };
    }),
  ];
}

export async function listConfigCommand(ctx: Context): Promise<CommandResult> {
  const settings = viewSettings(ctx);
  return { data: { settings }, render: (style) => renderSettings(settings, style) };
}

export async function getConfigCommand(ctx: Context, key: string): Promise<CommandResult> {
  const known = findField(key) ? key : findSetting(key).key;
  const view = viewSettings(ctx).find((setting) => setting.key === known)!;
  // One value a line: lists read well in `while read` loops.
  return { data: { key: view.key, value: view.value, set: view.set }, render: () => (Array.isArray(view.value) ? view.value.join('\n') : view.value) };
}

export async function setConfigCommand(ctx: Context, key: string, values: string[]): Promise<CommandResult> {
  const field = findField(key);
  if (field) return setFieldCommand(ctx, key as FieldKey, field, values);
  const spec = findSetting(key);
  const value = parseSettingValues(spec, values);
  const { config } = await updateConfig(ctx.paths, (current) => {
    current.settings = { ...current.settings, [spec.key]: value };
  });
  await recordEvents(ctx, config, [{ kind: 'config.set', actor: ctx.actor, data: { key: spec.key, value } }]);
  return { data: { key: spec.key, value }, render: (style) => `${style.green('Set')} ${spec.key} = ${Array.isArray(value) ? value.join(' ') : value}` };
}

async function setFieldCommand(ctx: Context, key: FieldKey, field: Field, values: string[]): Promise<CommandResult> {
  if (values.length !== 1) throw usageError('BAD_SETTING', `${key} takes one value`);
  const value = values[0]!;
  const { config, result } = await updateConfig(ctx.paths, (current) => {
    const previous = field.get(current);
    return { previous, note: field.set(current, value) };
  });
  if (result.previous !== value) await recordEvents(ctx, config, [{ kind: 'config.set', actor: ctx.actor, data: { key, previous: result.previous, value } }]);
  if (result.note) ctx.info(result.note);
  return { data: { key, value, previous: result.previous }, render: (style) => `${style.green('Set')} ${key} = ${value}` };
}

export async function unsetConfigCommand(ctx: Context, key: string): Promise<CommandResult> {
  if (findField(key)) throw usageError('CANNOT_UNSET', `${key} cannot be unset, only changed`, { hint: `agentauth config set ${key} VALUE` });
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
