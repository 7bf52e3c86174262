// The real CLI as a child process: started on port 0 and waited for (startServer, serverFor), or run
// to completion for its exit code and output (runCli). Every child still running when the test
// process exits is killed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI, PYTHON, ROOT } from './paths.mjs';
import { LineCollector } from './lines.mjs';
import { sleep, waitUntil } from './wait.mjs';

const LISTENING = /Listening at: https?:\/\/[^\s]*:(\d+)\b/;
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** argv for the CLI: app spec and flags, plus --python when the run asked for a given one. */
export function cliArgs(args, { python = true } = {}) {
  const out = [CLI, ...args];
  if (python && PYTHON && !args.includes('--python')) out.push('--python', PYTHON);
  return out;
}

/**
 * Starts `node bin/nodicorn ...args --bind 127.0.0.1:0` and waits for the Listening line.
 * With `command`, runs `command ...args` as given instead (a Python script that starts nodicorn),
 * and `listening` says which line to wait for (its first group, if any, is the port).
 * Returns { port, pid, proc, stderrLines, stdoutLines, waitStderr, waitStdout, exited, stop, kill }.
 */
export async function startServer(args, { cwd = ROOT, env = {}, timeout = 30_000, bind = true, waitWorkers = 0, python = true, command = null, listening = LISTENING, echo = !!process.env.NODICORN_TEST_ECHO } = {}) {
  const argv = command ? args : cliArgs(bind ? [...args, '--bind', '127.0.0.1:0'] : args, { python });
  const proc = spawn(command ?? process.execPath, argv, {
    cwd,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  const tag = `[nodicorn ${args[0]}]`;
  const stderr = new LineCollector(proc.stderr, echo ? (l) => process.stderr.write(`${tag} ${l}\n`) : null);
  const stdout = new LineCollector(proc.stdout, echo ? (l) => process.stderr.write(`${tag} out: ${l}\n`) : null);
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      resolve(exitInfo);
    });
  });

  const server = {
    proc,
    pid: proc.pid,
    port: 0,
    stderrLines: stderr.lines,
    stdoutLines: stdout.lines,
    exited,
    get exitInfo() { return exitInfo; },
    waitStderr: (re, ms, from) => stderr.waitFor(re, ms, from, 'stderr'),
    waitStdout: (re, ms, from) => stdout.waitFor(re, ms, from, 'stdout'),
    stderrText: () => stderr.lines.join('\n'),
    /** Graceful stop: SIGTERM, then the exit status (SIGKILL and throw past `ms`). */
    async stop(signal = 'SIGTERM', ms = 20_000) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, ms, null); });
      // Cleared once the race is decided, so a stopped server does not keep the test file alive for `ms`.
      const result = await Promise.race([exited, late]).finally(() => clearTimeout(timer));
      if (!result) {
        proc.kill('SIGKILL');
        await exited;
        throw new Error(`server did not exit within ${ms} ms after ${signal}:\n${stderr.tail()}`);
      }
      return result;
    },
    /** Hard cleanup for after() hooks: never throws. */
    async kill() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
    /** Stderr lines that show a wsgiref.validate failure (see fixtures/apps/wsgicheck.py). */
    validationFailures() {
      return stderr.lines.filter((l) => l.includes('X-WSGI-Validate: fail') || l.includes('without being closed'));
    },
  };

  const early = exited.then((info) => {
    throw new Error(`server exited (${JSON.stringify(info)}) before listening:\n${stderr.tail()}`);
  });
  try {
    const m = await Promise.race([stderr.waitFor(listening, timeout, 0, 'stderr'), early]);
    if (m[1] !== undefined) server.port = Number(m[1]);
    if (waitWorkers > 0) {
      const deadline = Date.now() + timeout;
      while (server.stderrLines.filter((l) => /Booting worker with pid:? \d+/.test(l)).length < waitWorkers) {
        if (exitInfo) throw new Error(`server exited while booting workers:\n${stderr.tail()}`);
        if (Date.now() > deadline) throw new Error(`fewer than ${waitWorkers} workers booted in ${timeout} ms:\n${stderr.tail()}`);
        await sleep(25);
      }
    }
  } catch (err) {
    early.catch(() => {});
    await server.kill();
    throw err;
  }
  early.catch(() => {});
  return server;
}

/** Starts a server for a test file; stops it (SIGKILL if needed) when the suite ends. */
export async function serverFor(t, args, opts) {
  const server = await startServer(args, opts);
  t.after(() => server.kill());
  return server;
}

/** Runs the CLI to completion (for exit-code tests). Resolves {code, signal, stdout, stderr}. */
export function runCli(args, { cwd = ROOT, env = {}, timeout = 30_000, python = true } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, cliArgs(args, { python }), {
      cwd,
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`CLI ${args.join(' ')} still running after ${timeout} ms:\n${stderr.slice(-4000)}`));
    }, timeout);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Starts `command args` (nodicorn or gunicorn, on any socket, a unix one too) and waits for its
 * "Listening at:" line. Returns what startServer does, `port` aside.
 */
export function startListening(command, args, { env = {}, cwd, timeout = 60_000 } = {}) {
  return startServer(args, { command, env, cwd, timeout, listening: /Listening at: / });
}

/**
 * The CLI with its error log in file `errors` (so not on stderr): the port comes from that file's
 * Listening line. Killed when test `t` ends. Returns { pid, port, stderr(), exited, proc }.
 */
export async function serverLoggingTo(t, args, errors) {
  const proc = spawn(process.execPath, cliArgs([...args, '--bind', '127.0.0.1:0', '--error-logfile', errors]), { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); }));
  t.after(() => { proc.kill('SIGKILL'); return exited; });
  const readOr = () => { try { return readFileSync(errors, 'utf8'); } catch { return ''; } };
  const listening = await waitUntil(() => /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readOr()), 30_000);
  if (!listening) throw new Error(`no Listening line in ${errors}:\n${readOr()}${stderr}`);
  return { pid: proc.pid, port: Number(listening[1]), stderr: () => stderr, exited, proc };
}
