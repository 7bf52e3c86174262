/**
 * --check-config and --print-config: the configuration has loaded (a bad one already exited 2);
 * what is left to check is that the app imports, in the interpreter, directory and environment
 * the workers would have. As with gunicorn: 0 when it does, 1 with the traceback when not.
 */
import { execFile } from 'node:child_process';
import { delimiter, join, resolve } from 'node:path';
import { choosePython } from '../config/python';
import type { Config } from '../config/settings';
import { envPairs } from '../config/env';

const PYTHON_DIR = join(__dirname, '..', '..', 'python');
const DUMP_SCRIPT = join(PYTHON_DIR, 'nodicorn_worker', 'dumpconfig.py');
/** An app whose import hangs must not hang the check forever. */
const CHECK_TIMEOUT_MS = 120_000;

export type AppCheck = { ok: true } | { ok: false; output: string };

export async function checkApp(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<AppCheck> {
  const cwd = resolve(config.chdir);
  const python = await choosePython(config, env, cwd);
  const args = [DUMP_SCRIPT, '--check-app', config.app ?? ''];
  for (const dir of config.pythonpath) args.push('--pythonpath', dir);
  const inherited = env.PYTHONPATH;
  const childEnv = {
    ...env,
    ...envPairs(config.rawEnv),
    PYTHONPATH: inherited ? PYTHON_DIR + delimiter + inherited : PYTHON_DIR,
    PYTHONDONTWRITEBYTECODE: '1',
  };
  return new Promise((done) => {
    execFile(python.path, args, { cwd, env: childEnv, timeout: CHECK_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) done({ ok: true });
      else done({ ok: false, output: `${stdout}${stderr}` || `${python.path}: ${err.message}\n` });
    });
  });
}
