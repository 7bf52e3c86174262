/**
 * --print-config: every setting and its value, one `name = value` line each, by gunicorn name
 * (the config-file key), sorted and aligned as gunicorn prints its Config. Values are written as
 * Python shows them (None, True, ['a', 'b']), so the output reads like gunicorn's.
 */
import { ENTRIES, type Config } from './settings';

/** Python's repr of a JSON-like value; a top-level string is shown bare, as str() does. */
export function pythonText(value: unknown, top = true): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return top ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map((v) => pythonText(v, false)).join(', ')}]`;
  const items = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pythonText(k, false)}: ${pythonText(v, false)}`);
  return `{${items.join(', ')}}`;
}

export function renderConfig(config: Config): string {
  const values = config as unknown as Record<string, unknown>;
  const lines: Array<[string, string]> = [];
  for (const entry of ENTRIES) {
    const s = entry.setting;
    if (s.kind === 'hook') {
      lines.push([s.file, config.hooks.includes(s.file) ? `<${s.file}()>` : '<default: does nothing>']);
    } else if (s.kind === 'value') {
      lines.push([s.file ?? entry.key, pythonText(values[entry.key])]);
    }
  }
  lines.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const width = Math.max(...lines.map(([name]) => name.length));
  return lines.map(([name, value]) => `${name.padEnd(width)} = ${value}`).join('\n') + '\n';
}
