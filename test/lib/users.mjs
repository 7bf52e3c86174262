// Another user for the tests that run as root and switch (--user): its ids, and a Python it can
// run the workers with from this checkout.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PYTHON, ROOT } from './paths.mjs';

/** `name`'s uid and primary gid, from /etc/passwd. */
export function userIds(name) {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** The directory the test interpreter imports `module` from (its site-packages), or null. */
function importedFrom(module) {
  const r = spawnSync(PYTHON ?? 'python3', ['-c', `import os, ${module}; print(os.path.dirname(os.path.dirname(${module}.__file__)))`], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * A Python that `user` can run the workers with, importing `modules` from `cwd`: the test's, the
 * system's, or the system's with the test interpreter's site-packages (a test venv under /root is
 * out of other users' reach). Returns { python, env } (env: the PYTHONPATH it needs) or null.
 */
export function pythonAs(user, modules, cwd) {
  const site = modules.length > 0 ? importedFrom(modules[0]) : null;
  const tries = [[PYTHON, {}], ['/usr/bin/python3', {}], ...(site ? [['/usr/bin/python3', { PYTHONPATH: site }]] : [])].filter(([py]) => py);
  for (const [python, env] of tries) {
    const pythonpath = [path.join(ROOT, 'python'), cwd, env.PYTHONPATH].filter(Boolean).join(path.delimiter);
    const r = spawnSync(python, ['-c', ['nodicorn_worker', ...modules].map((m) => `import ${m}`).join('; ')], {
      uid: user.uid,
      gid: user.gid,
      cwd,
      env: { PYTHONPATH: pythonpath },
      stdio: 'ignore',
      timeout: 30_000,
    });
    if (r.status === 0) return { python, env };
  }
  return null;
}
