// Where the tests find things: the repository, its fixture apps and examples, the CLI, and the
// Python the workers run.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const APPS = path.join(ROOT, 'test', 'fixtures', 'apps');
export const EXAMPLES = path.join(ROOT, 'examples');
export const CLI = path.join(ROOT, 'bin', 'nodicorn');
/** The interpreter the workers run: run.sh exports the test venv's python. */
export const PYTHON = process.env.NODICORN_TEST_PYTHON ? path.resolve(ROOT, process.env.NODICORN_TEST_PYTHON) : null;

/** Whether the test interpreter can import these modules (frameworks are optional locally). */
export function pythonHas(...modules) {
  const py = PYTHON ?? 'python3';
  const r = spawnSync(py, ['-c', modules.map((m) => `import ${m}`).join('; ')], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}
