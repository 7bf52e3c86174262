import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderDifferences, renderSettingsDoc } from './docs';
import { ENTRIES } from './settings';

test('docs/settings.md is up to date with the registry (npm run build && npm run docs)', () => {
  const onDisk = readFileSync(join(__dirname, '..', '..', 'docs', 'settings.md'), 'utf8');
  assert.equal(onDisk, renderSettingsDoc(), 'docs/settings.md is stale: run `npm run docs`');
});

test('the docs describe every setting with its flags, env var and config-file key', () => {
  const doc = renderSettingsDoc();
  for (const entry of ENTRIES) {
    assert.ok(doc.includes(`### ${entry.key}\n`), entry.key);
    for (const flag of entry.setting.flags) assert.ok(doc.includes(flag), flag);
    if (entry.env) assert.ok(doc.includes(`\`${entry.env}\``), entry.env);
    if (entry.setting.kind === 'value' && entry.setting.file) assert.ok(doc.includes(`Config file: \`${entry.setting.file}\``), entry.setting.file);
  }
});

test('the README\u2019s "What differs from gunicorn" table is the registry\u2019s (node dist/config/docs.js --differences)', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  assert.ok(readme.includes(renderDifferences()), 'README.md: paste the output of `node dist/config/docs.js --differences`');
});
