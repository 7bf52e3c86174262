/** --help and --version, rendered from the settings registry. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENTRIES, SECTIONS, type ActionEntry, type SettingEntry } from './settings';

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

/** "-w, --workers INT", "APP_MODULE", "-h, --help". */
export function usageOf(entry: SettingEntry | ActionEntry): string {
  const s = entry.setting;
  if (s.flags.length === 0) return s.metavar;
  return s.flags.join(', ') + (s.metavar ? ` ${s.metavar}` : '');
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

export function renderHelp(): string {
  const info = packageInfo();
  const out: string[] = ['usage: nodicorn [OPTIONS] APP_MODULE', ''];
  if (info.description) out.push(wrap(info.description, 0, WIDTH), '');
  for (const section of SECTIONS) {
    const entries = ENTRIES.filter((e) => e.setting.section === section);
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
        'the config file; NODICORN_CMD_ARGS holds extra arguments. Precedence: defaults < config file < ' +
        'environment < NODICORN_CMD_ARGS < command line. See docs/settings.md.',
      0,
      WIDTH,
    ),
  );
  return out.join('\n') + '\n';
}
