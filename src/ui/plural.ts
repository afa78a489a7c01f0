/** "1 key", "2 keys"; the plural given when adding an s is wrong ("1 keystore entry", "3 keystore entries"). */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
