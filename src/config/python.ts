/**
 * Which Python runs the workers (and evaluates a Python config file). Resolved when needed, not at
 * load time, in this order; the first that exists wins:
 *   1. --python (argv, NODICORN_PYTHON or the config file);
 *   2. the interpreter the pip-installed launcher runs on (LAUNCHER_PYTHON_ENV, set by
 *      `python -m nodicorn`), as an installed gunicorn runs on the environment it was installed into;
 *   3. the active virtualenv, $VIRTUAL_ENV;
 *   4. .venv, then venv, in the directory nodicorn was started from (the project root, where a
 *      user types the command), then the same two in --chdir;
 *   5. python3, then python, on PATH.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join, resolve, sep } from 'node:path';

/** Set by the Python launcher (python/nodicorn/launcher.py) to its own sys.executable. */
export const LAUNCHER_PYTHON_ENV = 'NODICORN_LAUNCHER_PYTHON';

/** Where the workers' interpreter came from, for the startup log line. */
export interface PythonChoice {
  readonly path: string;
  readonly reason: string;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds `name` on PATH (with PATHEXT on Windows); null when it is nowhere. */
export async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  const dirs = (env.PATH ?? env.Path ?? '').split(delimiter).filter((d) => d !== '');
  const exts = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function venvPython(dir: string): string {
  return process.platform === 'win32' ? join(dir, 'Scripts', 'python.exe') : join(dir, 'bin', 'python');
}

/**
 * The interpreter for the workers and why it was chosen. `cwd` is --chdir (where the workers run),
 * `startDir` the directory nodicorn was started from.
 */
export async function choosePython(
  config: { readonly python: string | null },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  startDir: string = process.cwd(),
): Promise<PythonChoice> {
  if (config.python) {
    // A relative path was typed in the directory nodicorn started in, as the shell would read it;
    // the workers are spawned in --chdir, where it would name nothing. A bare name stays a PATH lookup.
    const named = config.python;
    const isPath = named.includes('/') || named.includes(sep);
    return { path: isPath ? resolve(startDir, named) : named, reason: '--python' };
  }
  const launcher = env[LAUNCHER_PYTHON_ENV];
  if (launcher && (await isExecutable(launcher))) {
    return { path: launcher, reason: 'the Python nodicorn was installed into' };
  }
  if (env.VIRTUAL_ENV) {
    const candidate = venvPython(env.VIRTUAL_ENV);
    if (await isExecutable(candidate)) return { path: candidate, reason: 'the active virtualenv, $VIRTUAL_ENV' };
  }
  const places: Array<[string, string]> = [[resolve(startDir), 'the directory nodicorn started in']];
  if (resolve(cwd) !== resolve(startDir)) places.push([resolve(cwd), '--chdir']);
  for (const [dir, where] of places) {
    for (const name of ['.venv', 'venv']) {
      const candidate = venvPython(join(dir, name));
      if (await isExecutable(candidate)) return { path: candidate, reason: `${name} in ${where}` };
    }
  }
  for (const name of ['python3', 'python']) {
    const found = await findOnPath(name, env);
    if (found) return { path: found, reason: `${name} on PATH` };
  }
  return { path: 'python3', reason: 'no virtualenv and no python3 or python on PATH found' };
}

/** The interpreter alone: see choosePython. */
export async function resolvePython(
  config: { readonly python: string | null },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  startDir: string = process.cwd(),
): Promise<string> {
  return (await choosePython(config, env, cwd, startDir)).path;
}
