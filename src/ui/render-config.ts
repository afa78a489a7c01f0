// Human rendering of `config list`.
import type { SettingView } from '../commands/config.js';
import type { Style } from './style.js';
import { formatTable } from './table.js';

export function renderSettings(settings: SettingView[], style: Style): string {
  const rows = settings.map((setting) => {
    const value = Array.isArray(setting.value) ? setting.value.join(' ') || '(none)' : setting.value;
    return [setting.key, setting.set ? value : style.dim(`${value} (default)`), style.dim(setting.description)];
  });
  return formatTable(rows, ['KEY', 'VALUE', '']);
}
