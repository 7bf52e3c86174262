import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logTargets } from './log-config-targets';

test('no log config, or one that leaves gunicorn\u2019s loggers alone: nothing changes', () => {
  assert.deepEqual(logTargets(null, '--log-config'), { settings: {}, warnings: [] });
  assert.deepEqual(logTargets({}, '--log-config'), { settings: {}, warnings: [] });
});

test('gunicorn\u2019s default dict: error log on stderr at INFO, access log on stdout', () => {
  const t = logTargets({
    'gunicorn.error': { level: 'info', handlers: [{ kind: 'stderr' }] },
    'gunicorn.access': { level: 'info', handlers: [{ kind: 'stdout' }] },
  }, '--log-config-dict');
  assert.deepEqual(t, { settings: { logLevel: 'info', errorLogfile: '-', accessLogfile: '-' }, warnings: [] });
});

test('files are followed; what cannot be is one warning each', () => {
  const t = logTargets({
    'gunicorn.error': { level: 'warning', handlers: [{ kind: 'other', class: 'SysLogHandler' }, { kind: 'file', path: '/var/log/e.log' }, { kind: 'file', path: '/var/log/f.log' }] },
    'gunicorn.access': { level: 'info', handlers: [{ kind: 'file', path: '/var/log/a.log' }] },
  }, '--log-config');
  assert.deepEqual(t.settings, { logLevel: 'warning', errorLogfile: '/var/log/e.log', accessLogfile: '/var/log/a.log' });
  assert.deepEqual(t.warnings, [
    "--log-config: nodicorn's own error lines cannot go to a SysLogHandler (gunicorn.error); they go to /var/log/e.log",
    "--log-config: nodicorn's own error lines cannot go to a FileHandler on /var/log/f.log (gunicorn.error); they go to /var/log/e.log",
  ]);
});

test('an access logger above INFO, or without a handler nodicorn can follow, turns the access log off', () => {
  const quiet = logTargets({ 'gunicorn.access': { level: 'warning', handlers: [{ kind: 'stdout' }] } }, '--log-config');
  assert.deepEqual(quiet.settings, { accessLogfile: null });
  const none = logTargets({ 'gunicorn.access': { level: 'info', handlers: [] } }, '--log-config');
  assert.deepEqual(none, { settings: { accessLogfile: null }, warnings: [] });
  const other = logTargets({ 'gunicorn.access': { level: 'info', handlers: [{ kind: 'other', class: 'QueueHandler' }] } }, '--log-config');
  assert.equal(other.settings.accessLogfile, null);
  assert.match(other.warnings[0] as string, /cannot go to a QueueHandler \(gunicorn\.access\); they go to nowhere/);
});

test('streams nodicorn does not write there: error to stdout goes to stderr, access to stderr goes to stdout', () => {
  const t = logTargets({
    'gunicorn.error': { level: 'debug', handlers: [{ kind: 'stdout' }] },
    'gunicorn.access': { level: 'info', handlers: [{ kind: 'stderr' }] },
  }, '--log-config-json');
  assert.deepEqual(t.settings, { logLevel: 'debug', errorLogfile: '-', accessLogfile: '-' });
  assert.equal(t.warnings.length, 2);
  assert.match(t.warnings[0] as string, /StreamHandler on stdout \(gunicorn\.error\); they go to stderr/);
  assert.match(t.warnings[1] as string, /StreamHandler on stderr \(gunicorn\.access\); they go to stdout/);
});
