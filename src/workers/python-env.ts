/**
 * The environment of the Python processes Node starts (workers, the hook host): nodicorn_worker
 * first on PYTHONPATH, unbuffered output so lines reach the log as they are written.
 */
import { delimiter, join } from 'node:path';

/** The package directory that holds nodicorn_worker, put first on the worker's PYTHONPATH. */
export const PYTHON_PACKAGE_DIR = join(__dirname, '..', '..', 'python');

export function pythonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = extra.PYTHONPATH ?? process.env.PYTHONPATH;
  return {
    ...process.env,
    ...extra,
    PYTHONPATH: inherited ? PYTHON_PACKAGE_DIR + delimiter + inherited : PYTHON_PACKAGE_DIR,
    PYTHONUNBUFFERED: '1',
  };
}
