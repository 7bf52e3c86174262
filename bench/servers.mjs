// The servers the benchmarks compare, each started for a given worker count, and their setup from
// nothing: wrk from Debian, the peers into bench/.venv, nodicorn's dist/. run.mjs measures them
// with 2 workers; scaling.mjs with 1, 2, 4, … up to the machine's cores.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin, py, root, venv } from './lib.mjs';

// ---------------------------------------------------------------- setup, from nothing

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  return r.status === 0;
}

/** Every peer package a full run wants; scaling.mjs asks for its few. */
export const PEER_PACKAGES = ['gunicorn', 'granian', 'waitress', 'pyuwsgi', 'flask', 'django', 'matplotlib'];

/**
 * Installs what is missing: wrk, bench/.venv with `packages`, bjoern (optional, needs libev) when
 * `bjoern` is true, and nodicorn's build.
 */
export function setup({ packages = PEER_PACKAGES, bjoern = false } = {}) {
  if (!has('wrk')) {
    console.log('installing wrk (Debian)…');
    sh('apt-get', ['update', '-qq']);
    sh('apt-get', ['install', '-y', '-qq', 'wrk']);
    if (!has('wrk')) throw new Error('wrk is required and could not be installed');
  }
  if (!existsSync(py)) sh('python3', ['-m', 'venv', venv]);
  const missing = packages.filter((p) => !pipHas(p));
  if (missing.length) sh(py, ['-m', 'pip', 'install', '-q', ...missing]);
  // bjoern needs libev headers to build; it is optional and reported missing when it fails.
  if (bjoern && !pipHas('bjoern')) {
    if (!existsSync('/usr/include/ev.h')) sh('apt-get', ['install', '-y', '-qq', 'libev-dev']);
    sh(py, ['-m', 'pip', 'install', '-q', 'bjoern'], { stdio: 'ignore' });
  }
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) sh('npm', ['run', 'build'], { cwd: root });
}

function has(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function pipHas(pkg) {
  return existsSync(py) && spawnSync(py, ['-m', 'pip', 'show', '-q', pkg], { stdio: 'ignore' }).status === 0;
}

function pipVersion(pkg) {
  const r = spawnSync(py, ['-m', 'pip', 'show', pkg], { encoding: 'utf8' });
  return /^Version: (.+)$/m.exec(r.stdout ?? '')?.[1] ?? null;
}

// ---------------------------------------------------------------- servers

/** Each server with `workers` workers: how it is started for `module:attr` on a port, and its mode, for the tables. */
export function serverList(workers) {
  const w = String(workers);
  return [
    {
      name: 'nodicorn',
      mode: `${w} workers × 1 thread, keep-alive`,
      version: () => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
      argv: (app, port) => [process.execPath, join(root, 'bin', 'nodicorn'), app, '--bind', `127.0.0.1:${port}`, '-w', w, '--python', py, '--log-level', 'warning', '--backlog', '4096'],
      staticArgs: (dir) => ['--static-map', `/static=${dir}`],
    },
    {
      name: 'gunicorn-sync',
      mode: `${w} sync workers (no keep-alive: sync closes every connection)`,
      version: () => pipVersion('gunicorn'),
      argv: (app, port) => [bin('gunicorn'), '-w', w, '-b', `127.0.0.1:${port}`, '--log-level', 'warning', '--backlog', '4096', app],
    },
    {
      name: 'gunicorn-gthread',
      mode: `${w} gthread workers × 4 threads, keep-alive`,
      version: () => pipVersion('gunicorn'),
      argv: (app, port) => [bin('gunicorn'), '-k', 'gthread', '--threads', '4', '-w', w, '-b', `127.0.0.1:${port}`, '--log-level', 'warning', '--backlog', '4096', app],
    },
    {
      name: 'uwsgi',
      mode: `${w} processes, --http11-socket, keep-alive`,
      version: () => pipVersion('pyuwsgi'),
      argv: (app, port) => [bin('uwsgi'), '--http11-socket', `127.0.0.1:${port}`, '--processes', w, '--module', app, '--master', '--disable-logging', '--die-on-term', '--listen', '1024', '--need-app'],
      staticArgs: (dir) => ['--static-map', `/static=${dir}`],
    },
    {
      name: 'granian',
      mode: `${w} workers, WSGI interface, keep-alive`,
      version: () => pipVersion('granian'),
      argv: (app, port) => [bin('granian'), '--interface', 'wsgi', '--workers', w, '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning', app],
      staticArgs: (dir) => ['--static-path-route', '/static', '--static-path-mount', dir],
    },
    {
      name: 'waitress',
      mode: '1 process × 4 threads (waitress has no process pool), keep-alive',
      version: () => pipVersion('waitress'),
      argv: (app, port) => [bin('waitress-serve'), `--listen=127.0.0.1:${port}`, '--threads=4', app],
    },
    {
      name: 'bjoern',
      mode: '1 process, single-threaded event loop, keep-alive',
      version: () => pipVersion('bjoern'),
      optional: true,
      argv: (app, port) => {
        const [mod, attr] = app.split(':');
        return [py, '-c', `import bjoern, ${mod}; bjoern.run(${mod}.${attr}, '127.0.0.1', ${port})`];
      },
    },
  ];
}

/** Each server with its installed version, and `missing` saying why it cannot run here (or null). */
export function withVersions(servers) {
  return servers.map((s) => {
    const version = s.version();
    const exe = s.argv('m:a', 1)[0];
    const missing = !existsSync(exe) ? `${exe} not installed` : version === null && s.name !== 'nodicorn' ? 'not installed' : null;
    return { ...s, version, missing };
  });
}
