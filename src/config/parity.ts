/**
 * What gunicorn's settings that nodicorn cannot honour do when they are set: a refused one stops
 * startup with one line, a no-effect one is accepted with one warning. Both say why, and neither
 * fires for a value equal to the default (a config file may spell out every default).
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError } from '../errors';
import { HOOK_ENTRIES, VALUE_ENTRIES, primaryFlag, type Parity } from './settings';

const NO_CONTEXT = { cwd: '', read: () => undefined };

/** The reason a setting is refused or has no effect here, or null when it works. */
export function parityNote(parity: Parity): { refused: string } | { noEffect: string } | null {
  if (typeof parity === 'string' || 'differs' in parity) return null;
  return parity;
}

/** Throws a ConfigError for a refused setting that is set; returns a warning per no-effect one. */
export function checkParity(config: Readonly<Record<string, unknown>>, sources: Readonly<Record<string, string>>, hooks: readonly string[]): string[] {
  const warnings: string[] = [];
  for (const entry of VALUE_ENTRIES) {
    const note = parityNote(entry.setting.gunicorn);
    const source = sources[entry.key] ?? 'default';
    if (!note || source === 'default') continue;
    if (isDeepStrictEqual(config[entry.key], entry.setting.defaultValue(NO_CONTEXT))) continue;
    const name = primaryFlag(entry.setting);
    if ('refused' in note) throw new ConfigError(`${name} (from ${source}): refused: ${note.refused}`);
    warnings.push(`${name} (from ${source}): accepted, but has no effect: ${note.noEffect}`);
  }
  for (const entry of HOOK_ENTRIES) {
    const note = parityNote(entry.setting.gunicorn);
    if (!note || !hooks.includes(entry.setting.file)) continue;
    const text = 'refused' in note ? note.refused : note.noEffect;
    warnings.push(`${entry.setting.file} (from config file ${String(config.config)}): accepted, but has no effect: ${text}`);
  }
  return warnings;
}
