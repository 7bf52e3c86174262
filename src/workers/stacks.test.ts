import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestThreadsFirst } from './stacks';

const IDLE = `Thread 0x00007fe3e12fe6c0 (most recent call first):
  File "/srv/nodicorn_worker/channel.py", line 228 in _work
  File "/usr/lib/python3.11/threading.py", line 1002 in _bootstrap`;
const BUSY = `Thread 0x00007fe3e1aff6c0 (most recent call first):
  File "/srv/app.py", line 10 in hang
  File "/srv/nodicorn_worker/wsgi.py", line 257 in _respond
  File "/srv/nodicorn_worker/channel.py", line 231 in _work`;
const MAIN = `Current thread 0x00007fe3e344db80 (most recent call first):
  File "/srv/nodicorn_worker/channel.py", line 247 in serve`;

test('threads running a request come first, the others keep their order', () => {
  assert.equal(requestThreadsFirst([IDLE, BUSY, MAIN].join('\n\n')), [BUSY, IDLE, MAIN].join('\n\n'));
});

test('a Windows path counts too; a dump with no request thread is unchanged', () => {
  const winBusy = BUSY.replace('/srv/nodicorn_worker/wsgi.py', 'C:\\srv\\nodicorn_worker\\wsgi.py');
  assert.equal(requestThreadsFirst([MAIN, winBusy].join('\n\n')), [winBusy, MAIN].join('\n\n'));
  assert.equal(requestThreadsFirst([IDLE, MAIN].join('\n\n')), [IDLE, MAIN].join('\n\n'));
  assert.equal(requestThreadsFirst(''), '');
});
