// `agentauth config get|set|list`: the settings a user may change after init.
// Each setting says how it is read, checked and written; adding one is one
// entry in SETTINGS.
import { updateConfig, type Config } from '../core/config.js';
import { notFoundError, usageError } from '../core/errors.js';
import { validateIssuer } from '../core/install.js';
import { recordEvents } from './audit-events.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig } from './state.js';

interface Setting {
  description: string;
  get(config: Config): string;
  /** Checks and applies `value`; returns a note for the user, if any. */
  set(config: Config, value: string): string | null;
}

const SETTINGS: Record<string, Setting> = {
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

function findSetting(key: string): Setting {
  const setting = SETTINGS[key];
  if (!setting) throw notFoundError('UNKNOWN_SETTING', `no setting named ${JSON.stringify(key)}`, { hint: `settings: ${Object.keys(SETTINGS).join(', ')}` });
  return setting;
}

export async function getConfigCommand(ctx: Context, key: string): Promise<CommandResult> {
  const value = findSetting(key).get(loadConfig(ctx));
  return { data: { key, value }, render: () => value };
}

export async function listConfigCommand(ctx: Context): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const settings = Object.entries(SETTINGS).map(([key, setting]) => ({ key, value: setting.get(config), description: setting.description }));
  return { data: { settings }, render: () => settings.map((entry) => `${entry.key}=${entry.value}`).join('\n') };
}

export async function setConfigCommand(ctx: Context, key: string, value: string): Promise<CommandResult> {
  const setting = findSetting(key);
  const { config, result } = await updateConfig(ctx.paths, (config) => {
    const previous = setting.get(config);
    const note = setting.set(config, value);
    return { previous, note };
  });
  if (result.previous !== value) {
    await recordEvents(ctx, config, [{ kind: 'config.set', actor: ctx.actor, data: { key, previous: result.previous, value } }]);
  }
  if (result.note) ctx.info(result.note);
  return { data: { key, value, previous: result.previous }, render: (style) => `${style.green('Set')} ${key}=${value}` };
}
