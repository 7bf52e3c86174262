// Starting a server (nodicorn, or gunicorn for comparison) that binds a unix socket, or runs
// detached: what test/helpers.mjs's startServer cannot wait for, as it waits for a TCP port.
//
// Not a test file itself. Every wait has a deadline.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LineCollector, sleep } from './helpers.mjs';

/**
 * Spawns `command args` and waits for its "Listening at:" line (nodicorn's and gunicorn's).
 * Returns { proc, pid, stderrLines, stdoutLines, waitStderr, stop, kill }.
 */
export async function startListening(command, args, { env = {}, cwd, timeout = 60_000, tag = command } = {}) {
  const proc = spawn(command, args, {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const echo = process.env.NODICORN_TEST_ECHO ? (l) => process.stderr.write(`[${tag}] ${l}\n`) : null;
  const stderr = new LineCollector(proc.stderr, echo);
  const stdout = new LineCollector(proc.stdout, echo);
  let exitInfo = null;
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve((exitInfo = { code, signal }))));
  const server = {
    proc,
    pid: proc.pid,
    exited,
    stderrLines: stderr.lines,
    stdoutLines: stdout.lines,
    waitStderr: (re, ms = 10_000) => stderr.waitFor(re, ms, 0, 'stderr'),
    waitStdout: (re, ms = 10_000) => stdout.waitFor(re, ms, 0, 'stdout'),
    async stop(signal = 'SIGTERM', ms = 30_000) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      const result = await Promise.race([exited, sleep(ms).then(() => null)]);
      if (result) return result;
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`${tag} did not exit within ${ms} ms after ${signal}:\n${stderr.tail()}`);
    },
    async kill() {
      if (!exitInfo) proc.kill('SIGKILL');
      return exited;
    },
  };
  const early = exited.then((info) => {
    throw new Error(`${tag} exited (${JSON.stringify(info)}) before listening:\n${stderr.tail()}`);
  });
  try {
    await Promise.race([stderr.waitFor(/Listening at: /, timeout, 0, 'stderr'), early]);
  } catch (err) {
    early.catch(() => {});
    await server.kill();
    throw err;
  }
  early.catch(() => {});
  return server;
}

/** The Uid/Gid/Groups lines of /proc/PID/status: { uid, gid, groups } (real ids). */
export function credentials(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid')[0], gid: field('Gid')[0], groups: field('Groups') };
}

/** The pids of PID's children (/proc/PID/task/PID/children, Linux). */
export function childPids(pid) {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}
