/**
 * Which Python runs the workers: --python, else the active virtualenv, else ./.venv, else python3
 * or python on PATH. Resolved when needed (spawning workers, evaluating a config file).
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join, resolve, sep } from 'node:path';

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

/**
 * The interpreter for the workers: --python if given, else $VIRTUAL_ENV's, else ./.venv's (relative
 * to `cwd`, the workers' --chdir), else python3, else python on PATH. Resolved when needed, not
 * at load time.
 */
export async function resolvePython(
  config: { readonly python: string | null },
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
  startDir: string = process.cwd(),
): Promise<string> {
  if (config.python) {
    // A relative path was typed in the directory nodicorn started in, as the shell would read it;
    // the workers are spawned in --chdir, where it would name nothing. A bare name stays a PATH lookup.
    const named = config.python;
    const isPath = named.includes('/') || named.includes(sep);
    return isPath ? resolve(startDir, named) : named;
  }
  const win = process.platform === 'win32';
  const venvPython = (dir: string): string => (win ? join(dir, 'Scripts', 'python.exe') : join(dir, 'bin', 'python'));
  if (env.VIRTUAL_ENV) {
    const candidate = venvPython(env.VIRTUAL_ENV);
    if (await isExecutable(candidate)) return candidate;
  }
  const local = venvPython(resolve(cwd, '.venv'));
  if (await isExecutable(local)) return local;
  for (const name of ['python3', 'python']) {
    const found = await findOnPath(name, env);
    if (found) return found;
  }
  return 'python3';
}
