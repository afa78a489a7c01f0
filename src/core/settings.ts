// User settings kept in config.json under "settings", set with
// `agentauth config set KEY VALUE…`. One table says what each key holds, so
// that `config list`, validation and the docs cannot disagree.
import { SANDBOX_MODES, type SandboxMode } from './sandbox/detect.js';
import { usageError } from './errors.js';

export interface Settings {
  'run.sandbox'?: SandboxMode;
  'run.sandbox-hide'?: string[];
  'run.sandbox-ro'?: string[];
  'audit.rotate-bytes'?: string;
}

export type SettingKey = keyof Settings;

interface SettingSpec {
  key: SettingKey;
  description: string;
  /** One of `choices`, a list of paths, or a size in bytes (`64M`) or `off`. */
  type: 'choice' | 'paths' | 'size';
  choices?: readonly string[];
  default: string | string[];
}

export const SETTINGS: readonly SettingSpec[] = [
  {
    key: 'run.sandbox',
    description: 'whether run sandboxes the child: required (exit 125 without a sandbox), auto (when the platform can), off',
    type: 'choice',
    choices: SANDBOX_MODES,
    default: 'auto',
  },
  { key: 'run.sandbox-hide', description: 'more paths the sandboxed child cannot see (as --sandbox-hide)', type: 'paths', default: [] },
  { key: 'run.sandbox-ro', description: 'more paths the sandboxed child can read but not change (as --sandbox-ro)', type: 'paths', default: [] },
  {
    key: 'audit.rotate-bytes',
    description: 'start a new audit log segment once the live one reaches this size (4K at least; K, M, G), or off',
    type: 'size',
    default: '64M',
  },
];

const SIZE = /^(\d+)([KMG]?)$/;
const MIN_ROTATE_BYTES = 4096;

/** Bytes for a size setting (`64M`), or undefined for `off`. */
export function sizeInBytes(value: string): number | undefined {
  if (value === 'off') return undefined;
  const match = SIZE.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2] as '' | 'K' | 'M' | 'G'];
}

function checkSize(value: string): string | null {
  if (value === 'off') return null;
  const bytes = SIZE.test(value) ? sizeInBytes(value) : undefined;
  if (bytes === undefined || !Number.isSafeInteger(bytes)) return `${JSON.stringify(value)} is not a size: a number of bytes with K, M or G (64M), or off`;
  if (bytes < MIN_ROTATE_BYTES) return `${JSON.stringify(value)} is too small: at least 4K`;
  return null;
}

/**
 * When the audit log rotates on its own, in bytes (undefined: never). Only
 * this key is checked here: every command that writes to the log reads it,
 * and a mistake in another setting must not stop them all.
 */
export function readRotateBytes(config: { settings?: object }): number | undefined {
  const key = 'audit.rotate-bytes';
  const stored = (config.settings as Record<string, unknown> | undefined)?.[key];
  if (stored === undefined) return sizeInBytes(findSetting(key).default as string);
  if (typeof stored !== 'string' || checkSize(stored) !== null) {
    throw usageError('BAD_SETTING', `config.json holds an invalid setting ${JSON.stringify(key)}: ${JSON.stringify(stored)}`, { hint: `fix it with: agentauth config set ${key} 64M, or: agentauth config unset ${key}` });
  }
  return sizeInBytes(stored);
}

export function findSetting(key: string): SettingSpec {
  const spec = SETTINGS.find((candidate) => candidate.key === key);
  if (!spec) throw usageError('UNKNOWN_SETTING', `unknown setting "${key}"`, { hint: `settings: ${SETTINGS.map((s) => s.key).join(', ')}` });
  return spec;
}

/** Checks the values given to `config set` and returns what is stored. */
export function parseSettingValues(spec: SettingSpec, values: string[]): string | string[] {
  if (values.length === 0) throw usageError('NO_VALUE', `config set ${spec.key} needs a value`, { hint: describeValues(spec) });
  if (spec.type === 'choice') {
    const [value] = values;
    if (values.length !== 1 || !spec.choices!.includes(value!)) {
      throw usageError('BAD_SETTING', `${spec.key} takes one of: ${spec.choices!.join(', ')} (got ${values.map((v) => JSON.stringify(v)).join(' ')})`);
    }
    return value!;
  }
  if (spec.type === 'size') {
    const value = values.length === 1 ? values[0]!.toUpperCase().replace(/^OFF$/, 'off') : '';
    const problem = values.length === 1 ? checkSize(value) : 'one size';
    if (problem) throw usageError('BAD_SETTING', `${spec.key}: ${problem}`, { hint: describeValues(spec) });
    return value;
  }
  const problem = values.map(checkSettingPath).find((message) => message !== null);
  if (problem) throw usageError('BAD_SETTING', `${spec.key}: ${problem}`, { hint: describeValues(spec) });
  return [...new Set(values)];
}

/** Paths in the config must mean the same from any working directory. */
function checkSettingPath(path: string): string | null {
  if (!path.startsWith('/') && path !== '~' && !path.startsWith('~/')) return `${JSON.stringify(path)} is neither absolute nor under ~/`;
  if (path === '/' || path === '~') return `${JSON.stringify(path)} is too much: name the folders or files themselves`;
  return null;
}

function describeValues(spec: SettingSpec): string {
  if (spec.type === 'size') return `a size or off: agentauth config set ${spec.key} 64M`;
  return spec.type === 'choice' ? `one of: ${spec.choices!.join(', ')}` : `one or more paths, absolute or under ~/: agentauth config set ${spec.key} ~/.ssh ~/.aws`;
}

/**
 * The settings as stored, checked: config.json may have been edited by hand,
 * and a wrong value must stop a run loudly rather than weaken its sandbox.
 */
export function readSettings(config: { settings?: object }): Settings {
  const stored = (config.settings ?? {}) as Record<string, unknown>;
  const settings: Settings = {};
  for (const [key, value] of Object.entries(stored)) {
    const spec = SETTINGS.find((candidate) => candidate.key === key);
    const valid =
      spec &&
      (spec.type === 'choice'
        ? typeof value === 'string' && spec.choices!.includes(value)
        : spec.type === 'size'
          ? typeof value === 'string' && checkSize(value) === null
          : Array.isArray(value) && value.every((item) => typeof item === 'string' && checkSettingPath(item) === null));
    if (!valid) {
      throw usageError('BAD_SETTING', `config.json holds an invalid setting ${JSON.stringify(key)}: ${JSON.stringify(value)}`, {
        hint: spec ? `fix it with: agentauth config set ${key} …, or: agentauth config unset ${key}` : `remove it with: agentauth config unset ${key}`,
      });
    }
    (settings as Record<string, unknown>)[key] = value;
  }
  return settings;
}
