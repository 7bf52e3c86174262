// The deployment the tutorial recommends, for the tests that run it: Django's admin
// (examples/django_project, settings_admin, sqlite in a temp dir) behind a real nginx
// (examples/django_project/deploy/nginx.conf, its workers running as another user when the tests
// run as root) on a unix socket, and what a browser sees of it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { EXAMPLES, PYTHON, pythonHas } from './paths.mjs';
import { sleep } from './wait.mjs';

export const DJANGO_DIR = path.join(EXAMPLES, 'django_project');
const NGINX_CONF = path.join(DJANGO_DIR, 'deploy', 'nginx.conf');
const PY = PYTHON ?? 'python3';
export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p)) ?? null;
export const ROOT_USER = process.getuid?.() === 0;

export const nginxSkip = NGINX === null ? 'nginx is not installed (Debian: apt-get install nginx-light; .ci/run installs it)'
  : !pythonHas('django', 'gunicorn') ? `${PY} cannot import django and gunicorn (test/run.sh installs them)`
  : false;

/** The app server's command line after the program name: the same for gunicorn and nodicorn. */
export function serverArgs(socket, extra = []) {
  return ['mysite.wsgi:application', '--chdir', DJANGO_DIR, '--bind', `unix:${socket}`, '--workers', '2', ...extra];
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** nginx's `user` line: a non-root user (and group) when we are root; else it is ignored anyway. */
function nginxUser() {
  if (!ROOT_USER) return userInfo().username;
  const groups = readFileSync('/etc/group', 'utf8');
  return /^nogroup:/m.test(groups) ? 'nobody nogroup' : 'nobody nobody';
}

export async function startNginx(t, dir, socket) {
  const prefix = path.join(dir, 'nginx');
  mkdirSync(prefix, { recursive: true });
  chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = readFileSync(NGINX_CONF, 'utf8')
    .replaceAll('@USER@', nginxUser())
    .replaceAll('@PREFIX@', prefix)
    .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
    .replaceAll('@SOCKET@', socket);
  const confPath = path.join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const proc = spawn(NGINX, ['-p', prefix, '-c', confPath, '-e', path.join(prefix, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  t.after(async () => {
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    proc.kill('SIGKILL');
  });
  const connects = () => new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
    c.on('error', () => resolve(false));
  });
  for (let i = 0; !(await connects()); i++) {
    if (proc.exitCode !== null || i > 300) throw new Error(`nginx is not serving (exit code ${proc.exitCode}): ${stderr}`);
    await sleep(50);
  }
  return { base: `http://127.0.0.1:${port}`, errorLog: () => readFileSync(path.join(prefix, 'error.log'), 'utf8') };
}

function cookies(res) {
  const out = {};
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const eq = pair.indexOf('=');
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** What a browser sees of the admin through nginx: the facts both servers must agree on. */
export async function walkAdmin(base) {
  const login = await fetch(`${base}/admin/login/?next=/admin/`, { redirect: 'manual' });
  const page = await login.text();
  const csrf = cookies(login).csrftoken;
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page)?.[1];
  const post = (body, cookie) => fetch(`${base}/admin/login/?next=/admin/`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, referer: `${base}/admin/login/` },
    body: new URLSearchParams(body).toString(),
  });
  const forbidden = await post({ username: 'admin', password: 'nodicorn-pw', next: '/admin/' }, `csrftoken=${csrf}`);
  await forbidden.arrayBuffer();
  const loggedIn = await post({ csrfmiddlewaretoken: token ?? '', username: 'admin', password: 'nodicorn-pw', next: '/admin/' }, `csrftoken=${csrf}`);
  await loggedIn.arrayBuffer();
  const session = cookies(loggedIn).sessionid;
  const admin = await fetch(`${base}/admin/`, { redirect: 'manual', headers: { cookie: `csrftoken=${csrf}; sessionid=${session}` } });
  const adminPage = await admin.text();
  return {
    loginStatus: login.status,
    loginForm: /<form[^>]+id="login-form"/.test(page) && token !== undefined && csrf !== undefined,
    postWithoutTokenStatus: forbidden.status,
    postStatus: loggedIn.status,
    postLocation: loggedIn.headers.get('location'),
    session: session !== undefined,
    adminStatus: admin.status,
    adminIndex: adminPage.includes('Site administration'),
  };
}

export const EXPECTED = {
  loginStatus: 200,
  loginForm: true,
  postWithoutTokenStatus: 403,
  postStatus: 302,
  postLocation: '/admin/',
  session: true,
  adminStatus: 200,
  adminIndex: true,
};

/** Creates the admin's sqlite database in `dir` (migrated, with user admin / nodicorn-pw); returns the app's environment. */
export function adminDatabase(dir) {
  const env = { DJANGO_SETTINGS_MODULE: 'mysite.settings_admin', DJANGO_DB_PATH: path.join(dir, 'db.sqlite3') };
  const manage = (...args) => {
    const r = spawnSync(PY, ['manage.py', ...args], { cwd: DJANGO_DIR, env: { ...process.env, ...env, DJANGO_SUPERUSER_PASSWORD: 'nodicorn-pw' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `manage.py ${args.join(' ')}: ${r.stderr}`);
  };
  manage('migrate', '--noinput', '-v', '0');
  manage('createsuperuser', '--noinput', '--username', 'admin', '--email', 'admin@example.com');
  return env;
}
