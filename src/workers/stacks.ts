/**
 * Python stack dumps of live workers, for a timeout (before the kill) and on demand (SIGURG to
 * the master). Each worker registers `faulthandler` on STACKS_SIGNAL, writing to a file of its
 * own in a private directory (its pid names it). faulthandler runs in C, inside the signal
 * handler, so it dumps even while the app holds the GIL in a C call or a tight loop; and a file
 * reaches the error log whether or not --capture-output gives Node the worker's stderr.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The worker's dump signal. gunicorn's workers leave it alone; Node sends it only to ready workers. */
export const STACKS_SIGNAL: NodeJS.Signals = 'SIGUSR2';
/** How long a dump may take to arrive before what came is logged (and a timed-out worker killed). */
const DUMP_WAIT_MS = 1000;
/** A dump is complete once its file stopped growing for this long. */
const SETTLED_MS = 100;
const POLL_MS = 25;

let dir: string | undefined;

/** The private (0700) directory of the dump files, made on first use; none on Windows. */
export function stacksDir(): string | undefined {
  if (process.platform === 'win32') return undefined;
  if (!dir) {
    dir = mkdtempSync(join(tmpdir(), 'nodicorn-stacks-'));
    const made = dir;
    process.once('exit', () => {
      try {
        rmSync(made, { recursive: true, force: true });
      } catch {
        // Left in the temp directory: nothing in it outlives the workers that wrote it.
      }
    });
  }
  return dir;
}

/** The file worker `pid` dumps into. */
export function stacksFile(stacks: string, pid: number): string {
  return join(stacks, String(pid));
}

/**
 * Signals the worker and returns its dump once complete (or what came within DUMP_WAIT_MS; ''
 * when nothing did). The file is emptied after each read: the worker appends (O_APPEND).
 */
export async function collectStacks(file: string, signal: () => boolean): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r+');
  } catch {
    return '';
  }
  try {
    await handle.truncate(0);
    if (!signal()) return '';
    const deadline = performance.now() + DUMP_WAIT_MS;
    let size = 0;
    let stableSince = performance.now();
    while (performance.now() < deadline) {
      await sleep(POLL_MS);
      const now = (await handle.stat()).size;
      if (now !== size) {
        size = now;
        stableSince = performance.now();
      } else if (size > 0 && performance.now() - stableSince >= SETTLED_MS) break;
    }
    const buf = Buffer.alloc(size);
    const { bytesRead } = await handle.read(buf, 0, size, 0);
    await handle.truncate(0);
    return requestThreadsFirst(buf.subarray(0, bytesRead).toString('utf8').trimEnd());
  } finally {
    await handle.close();
  }
}

/** A thread running a request has the worker's WSGI call (WsgiRequest._respond) on its stack. */
const RUNS_A_REQUEST = /nodicorn_worker[\\/]wsgi\.py", line \d+ in _respond$/m;

/**
 * faulthandler lists threads newest first, not by what they do: the threads running a request
 * (the late one among them) are put first, the others (idle app threads, the pipe reader, the
 * app's own) after, each group in faulthandler's order.
 */
export function requestThreadsFirst(dump: string): string {
  const blocks = dump.split(/\n\n(?=(?:Current thread|Thread) 0x)/);
  const busy = blocks.filter((b) => RUNS_A_REQUEST.test(b));
  return [...busy, ...blocks.filter((b) => !RUNS_A_REQUEST.test(b))].join('\n\n');
}
