// The npm package, black-box: `npm pack` on a copy of the sources without dist/ builds it through
// `prepack`, the tarball holds only what runs, and installed into an empty project from the
// tarball alone, `npx nodicorn` serves the seed example. Run by test/run.sh:
//     node --test test/package/*.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { EXAMPLES, PYTHON, ROOT } from '../helpers.mjs';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

function sh(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/** Runs `npx nodicorn ...` in `cwd` until it listens; resolves { port, proc }. */
function serveWithNpx(cwd, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(NPX, ['--no-install', 'nodicorn', ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let log = '';
    const timer = setTimeout(() => reject(new Error(`npx nodicorn not listening after 60 s:\n${log}`)), 60_000);
    proc.stderr.setEncoding('utf8').on('data', (d) => {
      log += d;
      const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), proc });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npx nodicorn exited ${code} before listening:\n${log}`));
    });
  });
}

test('npm pack ships only what runs, and npx serves the seed example from the tarball', async (t) => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'nodicorn-npm-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  // A clone as git has it (no dist/), with the devDependencies `npm ci` would bring.
  const clone = path.join(tmp, 'clone');
  mkdirSync(clone);
  const tracked = sh('git', ['ls-files', '-z', '-co', '--exclude-standard'], ROOT).split('\0').filter(Boolean);
  for (const rel of tracked) {
    // Regular files only: a worktree may hold node_modules or a venv as an unignored symlink.
    if (rel.startsWith('bench/') || rel.startsWith('test/') || !lstatSync(path.join(ROOT, rel), { throwIfNoEntry: false })?.isFile()) continue;
    mkdirSync(path.dirname(path.join(clone, rel)), { recursive: true });
    copyFileSync(path.join(ROOT, rel), path.join(clone, rel));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'));

  const pkg = JSON.parse(readFileSync(path.join(clone, 'package.json'), 'utf8'));
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(pkg.scripts?.[hook], undefined, `package.json has a "${hook}" script, run on install`);
  }

  const packed = JSON.parse(sh(NPM, ['pack', '--json', '--pack-destination', tmp, ...QUIET], clone));
  const files = packed[0].files.map((f) => f.path).sort();
  for (const needed of ['LICENSE', 'README.md', 'package.json', 'bin/nodicorn', 'dist/cli/main.js', 'dist/index.d.ts', 'python/nodicorn_worker/__main__.py']) {
    assert.ok(files.includes(needed), `${needed} is not in the tarball`);
  }
  const unwanted = files.filter((f) => /\.test\.|-testing\.|\.map$|__pycache__|\.pyc$/.test(f) || !/^(LICENSE|README\.md|package\.json|bin\/|dist\/|python\/nodicorn_worker\/)/.test(f));
  assert.deepEqual(unwanted, []);
  t.diagnostic(`npm tarball: ${packed[0].size} bytes, ${files.length} files, ${packed[0].unpackedSize} bytes unpacked`);

  // An empty project that installs the tarball alone (no dependencies, so the registry is not asked).
  const project = path.join(tmp, 'project');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-nodicorn', private: true }));
  sh(NPM, ['install', path.join(tmp, packed[0].filename), ...QUIET], project);

  const args = ['web_application:application', '--chdir', EXAMPLES, '--bind', '127.0.0.1:0', ...(PYTHON ? ['--python', PYTHON] : [])];
  const server = await serveWithNpx(project, args);
  // npx runs nodicorn as a child: stop the whole group.
  t.after(() => { try { process.kill(-server.proc.pid, 'SIGKILL'); } catch { /* gone */ } });
  const res = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'Hello my friend!');
  const installed = path.join(project, 'node_modules', 'nodicorn');
  assert.equal(readFileSync(path.join(installed, 'LICENSE'), 'utf8').split('\n')[0], 'MIT License');
});
