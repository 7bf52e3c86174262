/**
 * -D/--daemon. Node cannot fork, so the command starts itself again, detached: a new session
 * (setsid), stdin and, unless -R keeps them, stdout and stderr on /dev/null. The new process
 * says on a pipe (fd 3) when it listens, or why it stopped; the command waits for that, then
 * exits 0, or prints the error and exits with the server's exit code.
 */
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ConfigError } from '../errors';

/** Names the status pipe's fd in the detached process (and tells it it is the daemon). */
const STATUS_FD_ENV = 'NODICORN_DAEMON_STATUS_FD';

export interface DaemonStatus {
  /** The server listens: the waiting command may exit 0. */
  ready(): void;
  /** The server stops before listening: the waiting command prints `message`, exits `code`. */
  failed(message: string, code: number): void;
}

/**
 * In the detached process: the status pipe (taken out of the environment, so the workers do not
 * inherit its name). Null in a process started any other way.
 */
export function daemonStatus(): DaemonStatus | null {
  const raw = process.env[STATUS_FD_ENV];
  if (raw === undefined) return null;
  delete process.env[STATUS_FD_ENV];
  let fd: number | null = Number(raw);
  const send = (line: string): void => {
    if (fd === null) return;
    try {
      writeSync(fd, line);
      closeSync(fd);
    } catch {
      // The waiting command is gone: nobody to tell.
    }
    fd = null;
  };
  return {
    ready: () => send('ready\n'),
    failed: (message, code) => send(`failed ${code} ${message}\n`),
  };
}

/** In the command the user ran: starts the detached server and never returns. */
export async function daemonize(stdioInheritance: boolean): Promise<never> {
  if (process.platform === 'win32') throw new ConfigError('--daemon: Windows has no detached Unix daemons; run nodicorn as a service instead');
  // -R: output already redirected to a file or a pipe stays there; a terminal never does.
  const keep = (stream: NodeJS.WriteStream): 'inherit' | 'ignore' => (stdioInheritance && !stream.isTTY ? 'inherit' : 'ignore');
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', keep(process.stdout), keep(process.stderr), 'pipe'],
    env: { ...process.env, [STATUS_FD_ENV]: '3' },
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  const status = await readAll(child.stdio[3] as Readable);
  if (status.startsWith('ready')) {
    child.unref();
    process.exit(0);
  }
  const code = await exited;
  const failed = /^failed (\d+) ([^]*)$/.exec(status.trim());
  process.stderr.write(failed ? `${failed[2]}\n` : `nodicorn: error: the daemon exited with code ${code} before listening\n`);
  process.exit(failed ? Number(failed[1]) : code || 1);
}

function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.once('end', () => resolve(text));
    stream.once('error', () => resolve(text));
  });
}
