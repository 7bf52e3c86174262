/**
 * Glob patterns as gunicorn's --reload-extra-file reads them (Python's glob.glob with
 * recursive=True): `*` and `?` within one name, `[abc]` / `[!abc]` classes, `**` as a whole
 * name for any depth of directories. A name starting with a dot is matched only by a pattern
 * name starting with one, as in glob. Node 20 has no fs.glob, hence this.
 */
import { type Dirent, existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, parse, resolve } from 'node:path';

const MAGIC = /[*?[]/;
/** A pattern over a huge tree stops here rather than stall the event loop. */
const MAX_MATCHES = 10_000;

export function isGlobPattern(value: string): boolean {
  return MAGIC.test(value);
}

/** One pattern name as a regular expression. */
function nameRegex(name: string): RegExp {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = name.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let body = name.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** The files (not directories) matching `pattern`, relative to `cwd`, sorted. */
export function expandGlob(pattern: string, cwd: string): string[] {
  const full = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const { root } = parse(full);
  const names = full.slice(root.length).split(/[\\/]+/).filter((n) => n !== '');
  const found = new Set<string>();

  const walk = (dir: string, at: number): void => {
    if (found.size >= MAX_MATCHES) return;
    const name = names[at];
    if (name === undefined) {
      found.add(dir);
      return;
    }
    if (name === '**') {
      // Any depth, this directory included; last, it also means every file down there.
      const last = at === names.length - 1;
      walk(dir, at + 1);
      for (const e of entries(dir)) {
        if (e.name.startsWith('.')) continue;
        if (e.isDirectory()) walk(join(dir, e.name), at);
        else if (last) found.add(join(dir, e.name));
      }
      return;
    }
    if (!isGlobPattern(name)) {
      const next = join(dir, name);
      if (existsSync(next)) walk(next, at + 1);
      return;
    }
    const regex = nameRegex(name);
    const last = at === names.length - 1;
    for (const e of entries(dir)) {
      if (e.name.startsWith('.') && !name.startsWith('.')) continue;
      if (!regex.test(e.name)) continue;
      if (last || e.isDirectory()) walk(join(dir, e.name), at + 1);
    }
  };
  walk(root, 0);
  return [...found].filter(isFile).sort();
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
