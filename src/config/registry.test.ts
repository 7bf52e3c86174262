import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRIES } from './settings';

test('every flag and config-file key belongs to one setting', () => {
  const flags = new Map<string, string>();
  const files = new Map<string, string>();
  for (const entry of ENTRIES) {
    const aliases = entry.setting.kind === 'value' ? entry.setting.aliases.flatMap((a) => a.flags) : [];
    for (const flag of [...entry.setting.flags, ...aliases]) {
      assert.ok(!flags.has(flag), `${flag} is both ${flags.get(flag)} and ${entry.key}`);
      flags.set(flag, entry.key);
    }
    const file = entry.setting.kind === 'action' ? null : entry.setting.file;
    if (file) {
      assert.ok(!files.has(file), `${file} is both ${files.get(file)} and ${entry.key}`);
      files.set(file, entry.key);
    }
  }
});

test('a setting that differs, has no effect or is refused says why, in one line', () => {
  for (const { key, setting } of ENTRIES) {
    const parity = setting.gunicorn;
    if (parity === 'same' || parity === 'nodicorn') continue;
    const reason = 'differs' in parity ? parity.differs : 'noEffect' in parity ? parity.noEffect : parity.refused;
    assert.ok(reason.trim().length > 10, `${key}: a reason`);
    assert.ok(!reason.includes('\n'), `${key}: one line`);
  }
});

test('gunicorn\u2019s settings keep its config-file key; hooks are config-file only', () => {
  for (const { key, setting } of ENTRIES) {
    if (setting.kind === 'hook') assert.deepEqual(setting.flags, [], key);
    if (setting.kind === 'value' && setting.gunicorn !== 'nodicorn') assert.ok(setting.positional || setting.file || key === 'config', `${key} has gunicorn's key`);
  }
});
