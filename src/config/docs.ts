/**
 * Renders docs/settings.md from the registry: `node dist/config/docs.js > docs/settings.md`
 * (npm run docs), and the README's "What differs from gunicorn" table
 * (`node dist/config/docs.js --differences`). Unit tests fail when either checked-in copy differs.
 */
import { ENTRIES, SECTIONS, type Entry, type Parity } from './settings';
import { usageOf } from './help';

/** The parity column: "same", "nodicorn only", "differs: ...", "no effect: ...", "refused: ...". */
export function parityText(parity: Parity): string {
  if (parity === 'same') return 'same';
  if (parity === 'nodicorn') return 'nodicorn only';
  if ('differs' in parity) return `differs: ${parity.differs}`;
  if ('noEffect' in parity) return `accepted, no effect (warns): ${parity.noEffect}`;
  return `refused (exit 2): ${parity.refused}`;
}

/** gunicorn's name for a setting (its config-file key), or the flag for nodicorn's own. */
function nameOf(entry: Entry): string {
  const s = entry.setting;
  if (s.kind === 'hook') return s.file;
  if (s.kind === 'value' && s.gunicorn !== 'nodicorn') return s.file ?? entry.key;
  return s.flags.find((f) => f.startsWith('--')) ?? entry.key;
}

/** The one-word form of the parity, for the index table. */
function parityWord(parity: Parity): string {
  if (typeof parity === 'string') return parity === 'same' ? 'same' : 'nodicorn only';
  if ('differs' in parity) return 'differs';
  return 'noEffect' in parity ? 'no effect' : 'refused';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A Markdown table of every gunicorn setting that does not work exactly as in gunicorn. */
export function renderDifferences(): string {
  const rows = ENTRIES.filter((e) => e.setting.gunicorn !== 'same' && e.setting.gunicorn !== 'nodicorn');
  const out = ['| gunicorn setting | flags | here |', '| --- | --- | --- |'];
  for (const entry of rows) {
    const flags = entry.setting.flags.length ? entry.setting.flags.map((f) => `\`${f}\``).join(', ') : 'config file';
    out.push(`| \`${nameOf(entry)}\` | ${flags} | ${cell(parityText(entry.setting.gunicorn))} |`);
  }
  return out.join('\n') + '\n';
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

export function renderSettingsDoc(): string {
  const out: string[] = [
    '# Settings',
    '',
    '<!-- Generated from src/config/settings/ by `npm run docs`; do not edit by hand. -->',
    '',
    'Every setting can be given, from lowest to highest precedence, as its default, in a config file,',
    'as an environment variable, in `NODICORN_CMD_ARGS` (extra command-line arguments, shell-quoted),',
    'or on the command line. A higher source replaces a lower one\u2019s value whole, lists included.',
    '',
    'The config file (`-c FILE` or `-c python:module.name`, else `./nodicorn.conf.py`, else',
    '`./gunicorn.conf.py`, whichever exists first) is a Python file whose module-level names are',
    'settings and whose functions named after server hooks are hooks, as with gunicorn (`workers = 4`),',
    'or a `.json` file with the same keys. `GUNICORN_CMD_ARGS` is read as gunicorn reads it, below',
    '`NODICORN_CMD_ARGS`. Environment variables that are set but empty count as unset; a repeatable',
    'setting takes several space-separated (shell-quoted) items from its variable.',
    '',
    'The gunicorn line says how each setting compares with gunicorn 27’s: same, differs (how), nodicorn',
    'only, accepted with no effect (a value other than the default warns once at startup), or refused (a',
    'value other than the default stops startup with exit 2). Every gunicorn setting is known.',
    '',
  ];
  out.push('| setting | command line | config file | gunicorn |', '| --- | --- | --- | --- |');
  for (const section of SECTIONS) {
    for (const entry of ENTRIES.filter((e) => e.setting.section === section)) {
      const s = entry.setting;
      const own = s.kind === 'value' ? [...s.flags, ...s.aliases.flatMap((a) => a.flags)] : s.flags;
      const flags = own.map((f) => `\`${f}\``).join(', ');
      const file = s.kind === 'action' || !s.file ? '' : `\`${s.file}\``;
      out.push(`| [${entry.key}](#${entry.key.toLowerCase()}) | ${flags} | ${file} | ${parityWord(s.gunicorn)} |`);
    }
  }
  out.push('');
  for (const section of SECTIONS) {
    const entries = ENTRIES.filter((e) => e.setting.section === section);
    if (entries.length === 0) continue;
    out.push(`## ${section}`, '');
    for (const entry of entries) {
      const s = entry.setting;
      out.push(`### ${entry.key}`, '');
      out.push(`- Command line: ${code(usageOf(entry))}${s.kind === 'value' && s.repeatable ? ' (repeatable)' : ''}`);
      if (s.kind === 'value') {
        for (const alias of s.aliases) {
          out.push(`- ${alias.from}\u2019s spelling: ${alias.flags.map((f) => code(f)).join(', ')} (nodicorn only: gunicorn has no such flag)`);
        }
        out.push(`- Environment: ${entry.env ? code(entry.env) : 'none'}`);
        out.push(`- Config file: ${s.file ? code(s.file) : 'none'}`);
        out.push(`- Value: ${s.expected}`);
        out.push(`- Default: ${s.defaultDoc}`);
      }
      if (s.kind === 'hook') out.push(`- Config file: ${code(`def ${s.file}${s.signature}`)}, called in the ${s.runsIn === 'arbiter' ? 'master' : 'worker'}`);
      out.push(`- gunicorn: ${parityText(s.gunicorn)}`);
      out.push('', s.doc, '');
    }
  }
  return out.join('\n');
}

if (require.main === module) process.stdout.write(process.argv.includes('--differences') ? renderDifferences() : renderSettingsDoc());
