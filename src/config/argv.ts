/**
 * Command-line words → occurrences of settings. Accepts `--flag value`, `--flag=value`, `-w 4`,
 * `-w4`, `-w=4`, repeated flags, flags whose argument may be left out (`--proxy-protocol`), and
 * `--` to end the flags. Also splits GUNICORN_CMD_ARGS / NODICORN_CMD_ARGS (and repeatable env
 * vars) into words with shell-like quoting.
 */
import { ConfigError } from '../errors';
import { ENTRIES, primaryFlag, type ActionEntry, type SettingEntry } from './settings';

export interface Occurrence {
  readonly entry: SettingEntry | ActionEntry;
  /** As the user spelled it: "-w", "--log-file", "APP_MODULE". */
  readonly flag: string;
  /** The argument; null for a switch or an action given without one. */
  readonly raw: string | null;
  /** Set when the flag is another server's spelling (--http): errors name it rather than --bind. */
  readonly alias?: string;
}

export interface ParsedArgs {
  readonly occurrences: Occurrence[];
  readonly positionals: string[];
}

const BY_FLAG = new Map<string, SettingEntry | ActionEntry>();
/** Another server's spelling whose value needs rewriting into the setting's form (see Alias). */
const REWRITE = new Map<string, (raw: string) => string>();
const ALIASES = new Set<string>();
for (const entry of ENTRIES) {
  if (entry.setting.kind === 'hook') continue;
  for (const f of entry.setting.flags) BY_FLAG.set(f, entry as SettingEntry | ActionEntry);
  if (entry.setting.kind !== 'value') continue;
  for (const alias of entry.setting.aliases) {
    for (const f of alias.flags) {
      BY_FLAG.set(f, entry as SettingEntry);
      ALIASES.add(f);
      if (alias.rewrite) REWRITE.set(f, alias.rewrite);
    }
  }
}

function takesValue(entry: SettingEntry | ActionEntry): boolean {
  return entry.setting.kind === 'value' && !entry.setting.isSwitch;
}

/** For a flag whose argument may be left out: whether `word` is its argument (a valid value). */
function acceptsWord(entry: SettingEntry, word: string | undefined): word is string {
  if (word === undefined || word.startsWith('-')) return false;
  try {
    entry.setting.parseItem(word);
    return true;
  } catch {
    return false;
  }
}

const LONG_FLAGS = [...BY_FLAG.keys()].filter((f) => f.startsWith('--'));

/**
 * A long flag by its full spelling or, as argparse (and so gunicorn) takes it, by a prefix that
 * only one flag starts with: `--work 4` is --workers. Null when unknown; an ambiguous prefix is
 * an error naming the candidates.
 */
function lookupFlag(flag: string, source: string): { entry: SettingEntry | ActionEntry; full: string } | null {
  const exact = BY_FLAG.get(flag);
  if (exact) return { entry: exact, full: flag };
  if (!flag.startsWith('--') || flag.length < 3) return null;
  const matches = LONG_FLAGS.filter((f) => f.startsWith(flag));
  const entries = new Set(matches.map((f) => BY_FLAG.get(f)));
  if (entries.size > 1) throw new ConfigError(`${flag} (from ${source}): ambiguous, expected one of ${matches.join(', ')}`);
  const full = matches[0];
  const entry = full === undefined ? undefined : BY_FLAG.get(full);
  return full !== undefined && entry ? { entry, full } : null;
}

/** Whether a word is a flag we know, so `--bind --workers 2` does not eat --workers as an address. */
function isKnownFlag(word: string): boolean {
  if (word.startsWith('--')) {
    const flag = word.split('=', 1)[0] as string;
    return word === '--' || BY_FLAG.has(flag) || (flag.length > 2 && LONG_FLAGS.some((f) => f.startsWith(flag)));
  }
  return word.length >= 2 && word.startsWith('-') && BY_FLAG.has(word.slice(0, 2));
}

export function parseArgs(words: readonly string[], source: string): ParsedArgs {
  const occurrences: Occurrence[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--') {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    let flag: string;
    let attached: string | null = null;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      flag = eq < 0 ? word : word.slice(0, eq);
      if (eq >= 0) attached = word.slice(eq + 1);
    } else {
      flag = word.slice(0, 2);
      if (word.length > 2) attached = word[2] === '=' ? word.slice(3) : word.slice(2);
    }
    const found = lookupFlag(flag, source);
    if (!found) throw new ConfigError(`${flag} (from ${source}): no such flag (see --help)`);
    const { entry } = found;
    const rewrite = REWRITE.get(found.full);
    const alias = ALIASES.has(found.full) ? { alias: found.full } : {};
    if (!takesValue(entry)) {
      if (attached !== null && entry.setting.kind === 'action') {
        throw new ConfigError(`${flag} (from ${source}): takes no value, got "${attached}"`);
      }
      occurrences.push({ entry, flag, raw: attached });
      continue;
    }
    if (attached === null && entry.setting.kind === 'value' && entry.setting.optionalArg) {
      const next = words[i + 1];
      if (acceptsWord(entry as SettingEntry, next)) {
        attached = next;
        i++;
      }
      occurrences.push({ entry, flag, raw: attached });
      continue;
    }
    if (attached === null) {
      const next = words[i + 1];
      if (next === undefined || isKnownFlag(next)) {
        const expected = entry.setting.kind === 'value' ? entry.setting.expected : 'a value';
        throw new ConfigError(`${primaryFlag(entry.setting)} (from ${source}): expected ${expected}, got nothing`);
      }
      attached = next;
      i++;
    }
    occurrences.push({ entry, flag, raw: rewrite ? rewrite(attached) : attached, ...alias });
  }
  return { occurrences, positionals };
}

/**
 * Splits a string into words like a POSIX shell, without expansions: whitespace separates words,
 * '...' is literal, "..." keeps spaces and honours \" \\ \$ \`, a backslash outside quotes escapes
 * the next character.
 */
export function shellSplit(text: string, source: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ConfigError(`${source}: expected a closing ' quote, got ${JSON.stringify(text)}`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new ConfigError(`${source}: expected a closing " quote, got ${JSON.stringify(text)}`);
        const d = text[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1] as string)) {
          word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
