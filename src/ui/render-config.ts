// Human rendering of `config list`.
import type { Style } from './style.js';
import { formatTable } from './table.js';

/** One row of `config list`: a config field or a setting, with its value or default. */
export interface SettingView {
  key: string;
  value: string | string[];
  /** False when the value is the default. */
  set: boolean;
  description: string;
}

export function renderSettings(settings: SettingView[], style: Style): string {
  const rows = settings.map((setting) => {
    const value = Array.isArray(setting.value) ? setting.value.join(' ') || '(none)' : setting.value;
    return [setting.key, setting.set ? value : style.dim(`${value} (default)`), style.dim(setting.description)];
  });
  return formatTable(rows, ['KEY', 'VALUE', '']);
}
