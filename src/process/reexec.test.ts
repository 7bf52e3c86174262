import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FD_ENV, PATHS_ENV, PID_ENV, takeInherited } from './reexec';

test('takeInherited: the fds, their unix paths and the old master, taken out of the environment', () => {
  const env: NodeJS.ProcessEnv = { [FD_ENV]: '3,4,5', [PATHS_ENV]: JSON.stringify(['', '/run/app.sock', '']), [PID_ENV]: '1234', KEEP: '1' };
  assert.deepEqual(takeInherited(env), { fds: [3, 4, 5], paths: [null, '/run/app.sock', null], parentPid: 1234 });
  assert.deepEqual(env, { KEEP: '1' }, 'the workers and a later USR2 must not see them');
});

test('takeInherited: nothing inherited, or a list that is not fds, means bind as configured', () => {
  assert.equal(takeInherited({}), null);
  const bad: NodeJS.ProcessEnv = { [FD_ENV]: '3,x', [PID_ENV]: '9' };
  assert.equal(takeInherited(bad), null);
  assert.deepEqual(bad, {});
});

test('takeInherited: unreadable paths leave every fd unnamed', () => {
  assert.deepEqual(takeInherited({ [FD_ENV]: '3', [PATHS_ENV]: '{not json' }), { fds: [3], paths: [null], parentPid: 0 });
});
