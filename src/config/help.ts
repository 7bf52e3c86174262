/** --help and --version, rendered from the settings registry. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES, SECTIONS, type Entry } from './settings';

const WIDTH = 100;
const COLUMN = 32;

interface PackageInfo {
  version: string;
  description?: string;
}

function packageInfo(): PackageInfo {
  // dist/config/help.js → package.json at the project root.
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as PackageInfo;
}

export function packageVersion(): string {
  return packageInfo().version;
}

export function renderVersion(): string {
  return `nodicorn (version ${packageVersion()})\n`;
}

/**
 * "-w, --workers, --processes INT" (other servers' spellings last), "APP_MODULE", "-h, --help";
 * a config-file-only name: "post_fork (config file)".
 */
export function usageOf(entry: Entry): string {
  const s = entry.setting;
  if (s.kind === 'hook') return `${s.file}${s.signature} (config file)`;
  const aliases = s.kind === 'value' ? s.aliases.flatMap((a) => a.flags) : [];
  if (s.kind === 'value' && s.positional) return [s.metavar, ...aliases].join(', ');
  if (s.flags.length === 0) return s.kind === 'value' && s.file ? `${s.file} (config file)` : s.metavar;
  return [...s.flags, ...aliases].join(', ') + (s.metavar ? ` ${s.metavar}` : '');
}

/** The first sentence of a doc paragraph (a period followed by a space ends it). */
export function firstSentence(doc: string): string {
  const m = /^(.*?[.!?])(\s|$)/.exec(doc);
  return m ? (m[1] as string) : doc;
}

/** Greedy word wrap; every line after the first is indented by `indent` spaces. */
export function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n' + ' '.repeat(indent));
}

/** --help shows what a command line can say: flags and APP_MODULE (as gunicorn's --help does). */
export function shownInHelp(entry: Entry): boolean {
  const s = entry.setting;
  return s.flags.length > 0 || (s.kind === 'value' && s.positional);
}

export function renderHelp(): string {
  const info = packageInfo();
  const out: string[] = ['usage: nodicorn [OPTIONS] APP_MODULE', ''];
  if (info.description) out.push(wrap(info.description, 0, WIDTH), '');
  for (const section of SECTIONS) {
    const entries = ENTRIES.filter((e) => e.setting.section === section && shownInHelp(e));
    if (entries.length === 0) continue;
    out.push(`${section}:`);
    for (const entry of entries) {
      const usage = `  ${usageOf(entry)}`;
      let text = firstSentence(entry.setting.doc);
      if (entry.setting.kind === 'value') text += ` [default: ${entry.setting.defaultDoc}]`;
      const body = wrap(text, COLUMN, WIDTH);
      out.push(usage.length < COLUMN ? usage.padEnd(COLUMN) + body : `${usage}\n${' '.repeat(COLUMN)}${body}`);
    }
    out.push('');
  }
  out.push(
    wrap(
      'Each option can also be set by an environment variable (--workers: NODICORN_WORKERS) or in ' +
        'the config file; GUNICORN_CMD_ARGS and NODICORN_CMD_ARGS hold extra arguments. Precedence: defaults < ' +
        'config file < environment < GUNICORN_CMD_ARGS < NODICORN_CMD_ARGS < command line. Server hooks and ' +
        'a few settings are config-file only. See docs/settings.md.',
      0,
      WIDTH,
    ),
  );
  return out.join('\n') + '\n';
}
