/**
 * Renders docs/settings.md from the registry: `node dist/config/docs.js > docs/settings.md`
 * (npm run docs). A unit test fails when the checked-in file differs from this output.
 */
import { ENTRIES, SECTIONS } from './settings';
import { usageOf } from './help';

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

export function renderSettingsDoc(): string {
  const out: string[] = [
    '# Settings',
    '',
    '<!-- Generated from src/config/settings.ts by `npm run docs`; do not edit by hand. -->',
    '',
    'Every setting can be given, from lowest to highest precedence, as its default, in a config file,',
    'as an environment variable, in `NODICORN_CMD_ARGS` (extra command-line arguments, shell-quoted),',
    'or on the command line. A higher source replaces a lower one\u2019s value whole, lists included.',
    '',
    'The config file (`-c FILE`, else `./nodicorn.conf.py` when it exists) is a Python file whose',
    'module-level names are settings, as with gunicorn (`workers = 4`), or a `.json` file with the same',
    'keys. Environment variables that are set but empty count as unset; a repeatable setting takes',
    'several space-separated (shell-quoted) items from its variable.',
    '',
  ];
  for (const section of SECTIONS) {
    const entries = ENTRIES.filter((e) => e.setting.section === section);
    if (entries.length === 0) continue;
    out.push(`## ${section}`, '');
    for (const entry of entries) {
      const s = entry.setting;
      out.push(`### ${entry.key}`, '');
      out.push(`- Command line: ${code(usageOf(entry))}${s.kind === 'value' && s.repeatable ? ' (repeatable)' : ''}`);
      if (s.kind === 'value') {
        out.push(`- Environment: ${entry.env ? code(entry.env) : 'none'}`);
        out.push(`- Config file: ${s.file ? code(s.file) : 'none'}`);
        out.push(`- Value: ${s.expected}`);
        out.push(`- Default: ${s.defaultDoc}`);
      }
      out.push('', s.doc, '');
    }
  }
  return out.join('\n');
}

if (require.main === module) process.stdout.write(renderSettingsDoc());
