// What every benchmark script shares: paths, the CPU pinning, /proc accounting, the correctness
// probe, the wrk runner, and the measurement of one server on one scenario. run.mjs (the peer
// matrix) and floors.mjs (the reference floors) both measure through `measure`, so their figures
// come from one method.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..');
export const apps = join(here, 'apps');
export const venv = join(here, '.venv');
export const py = join(venv, 'bin', 'python');
export const bin = (name) => join(venv, 'bin', name);

// ---------------------------------------------------------------- scenarios

/** The load of each cell: the app, the path, wrk's connections and what a correct answer looks like. */
export const SCENARIOS = [
  { name: 'hello', app: 'scenarios:hello', path: '/', conc: 64, expect: 'Hello my friend!' },
  { name: 'hello-c256', app: 'scenarios:hello', path: '/', conc: 256, expect: 'Hello my friend!' },
  { name: 'get10k', app: 'scenarios:get10k', path: '/', conc: 64, expectLength: 10240 },
  { name: 'echo10k', app: 'scenarios:echo', path: '/', conc: 64, body: 10240, expectLength: 10240 },
  { name: 'download1m', app: 'scenarios:download1m', path: '/', conc: 64, expectLength: 1048576 },
  { name: 'upload10m', app: 'scenarios:upload', path: '/', conc: 64, body: 10 * 1048576, expect: String(10 * 1048576) },
  { name: 'flask-json', app: 'flask_bench:app', path: '/api/items', conc: 64, expectIncludes: '"total":10' },
  { name: 'django-template', app: 'django_bench:application', path: '/page/', conc: 64, expectIncludes: 'ROW 19' },
  { name: 'sleep10ms-c256', app: 'scenarios:sleep10', path: '/', conc: 256, expect: 'slept' },
  // A 1 MiB file from the server's own static mount (the app is never called): only the servers
  // with a `staticArgs` take part (nodicorn --static-map, uWSGI --static-map, granian
  // --static-path-mount).
  { name: 'static1m', app: 'scenarios:hello', path: '/static/file1m.bin', conc: 64, expectLength: 1048576, static: true },
];

/** The static scenario's directory, with its 1 MiB file (made once, the same bytes every time). */
export function staticDir() {
  const dir = join(tmpdir(), 'nodicorn-bench-static');
  const file = join(dir, 'file1m.bin');
  if (!existsSync(file) || statSync(file).size !== 1048576) {
    mkdirSync(dir, { recursive: true });
    const buf = Buffer.alloc(1048576);
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 7 + 3) % 256;
    writeFileSync(file, buf);
  }
  return dir;
}

/** The server tree runs on CPU 0, wrk (and the in-process loop's peers) on the other. */
export const SERVER_CPU = '0';
export const LOAD_CPU = cpus().length > 1 ? '1' : '0';
export const WARMUP = 2;

/**
 * Where `measure` pins the server tree and wrk (taskset CPU lists, e.g. `0-3` or `0,1`), and
 * wrk's threads. The matrix's default; scaling.mjs gives the server k CPUs and wrk the rest.
 */
export const DEFAULT_PIN = { server: SERVER_CPU, load: LOAD_CPU, threads: 1 };

/** A taskset CPU list (`0-3,6`) as the CPU numbers it names. */
export function cpuList(list) {
  return String(list).split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
}

// ---------------------------------------------------------------- /proc accounting

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]), cutime: Number(fields[13]), cstime: Number(fields[14]) };
  } catch {
    return null;
  }
}

export function tree(rootPid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(name);
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(Number(name));
  }
  const out = [rootPid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

/** CPU seconds of the root process alone (for nodicorn: Node, without the Python workers). */
export function rootCpu(rootPid) {
  const st = procStat(rootPid);
  return st ? (st.utime + st.stime) / TICK : 0;
}

/** CPU seconds used by the tree, including children that already exited (cutime/cstime). */
export function treeCpu(rootPid) {
  const { user, system } = treeTimes(rootPid);
  return user + system;
}

/** The same, split into user and system (kernel) seconds. */
function treeTimes(rootPid) {
  let user = 0;
  let system = 0;
  for (const pid of tree(rootPid)) {
    const st = procStat(pid);
    if (!st) continue;
    user += st.utime + (pid === rootPid ? st.cutime : 0);
    system += st.stime + (pid === rootPid ? st.cstime : 0);
  }
  return { user: user / TICK, system: system / TICK };
}

/**
 * Ticks of some CPUs (a taskset list) from /proc/stat: total, and stolen by the hypervisor. On a shared virtual
 * machine, steal on the server's core is time it wanted and did not get; cells measured under
 * heavy steal are noisier (caches are shared with the neighbours too), so each cell records it.
 */
export function cpuTicks(list) {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  let total = 0;
  let steal = 0;
  for (const cpu of cpuList(list)) {
    const line = lines.find((l) => l.startsWith(`cpu${cpu} `));
    const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
    total += f.reduce((a, b) => a + (b || 0), 0);
    steal += f[7] || 0;
  }
  return { total, steal };
}

export function rssKb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- checking an answer

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * One request with a raw socket: returns {status, body}. It asks for Connection: close, but a
 * response framed by Content-Length is complete without the close, so a reference server that
 * never reads the request (floors.mjs's canned node:net) can be checked too.
 */
export function probe(port, scenario) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(port, '127.0.0.1');
    const chunks = [];
    const body = scenario.body ? Buffer.alloc(scenario.body, 'x') : null;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const raw = Buffer.concat(chunks);
      const sep = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, sep).toString('latin1');
      let payload = raw.subarray(sep + 4);
      if (/transfer-encoding:\s*chunked/i.test(head)) payload = dechunk(payload);
      sock.destroy();
      resolve({ status: Number(head.split(' ')[1]), body: payload });
    };
    sock.setTimeout(10000, () => sock.destroy(new Error('probe timeout')));
    sock.on('connect', () => {
      const head = `${body ? 'POST' : 'GET'} ${scenario.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n` : ''}\r\n`;
      sock.write(head);
      if (body) sock.write(body);
    });
    let received = 0;
    let complete = -1; // the byte count of the whole response, once its head says it
    sock.on('data', (c) => {
      chunks.push(c);
      received += c.length;
      if (complete < 0) {
        const raw = Buffer.concat(chunks);
        const sep = raw.indexOf('\r\n\r\n');
        if (sep < 0) return;
        const head = raw.subarray(0, sep).toString('latin1');
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        complete = length && !/transfer-encoding/i.test(head) ? sep + 4 + Number(length[1]) : Infinity;
      }
      if (received >= complete) finish();
    });
    sock.on('error', (err) => done || ((done = true), reject(err)));
    sock.on('close', finish);
  });
}

function dechunk(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
  return Buffer.concat(out);
}

export function checkAnswer(scenario, answer) {
  if (answer.status !== 200) return `status ${answer.status}`;
  const text = answer.body.toString('latin1');
  if (scenario.expect !== undefined && text !== scenario.expect) return `body ${JSON.stringify(text.slice(0, 60))}`;
  if (scenario.expectLength !== undefined && answer.body.length !== scenario.expectLength) return `body of ${answer.body.length} bytes`;
  if (scenario.expectIncludes !== undefined && !text.includes(scenario.expectIncludes)) return `body lacks ${scenario.expectIncludes}`;
  return null;
}

async function waitReady(port, scenario, child) {
  const deadline = Date.now() + 30000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const problem = checkAnswer(scenario, await probe(port, scenario));
      if (!problem) return;
      last = problem;
      if (!/status 50[23]/.test(problem)) break;
    } catch (err) {
      last = err.message;
    }
    await sleep(200);
  }
  throw new Error(`did not answer correctly: ${last}`);
}

// ---------------------------------------------------------------- wrk

function luaScript(scenario) {
  if (!scenario.body) return null;
  const file = join(here, 'results', `.post-${scenario.body}.lua`);
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = string.rep("x", ${scenario.body})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
  return file;
}

export function runWrk(port, scenario, seconds, pin = DEFAULT_PIN) {
  return new Promise((resolve) => {
    const argv = ['-c', pin.load, 'wrk', '-t', String(pin.threads), '-c', String(scenario.conc), '-d', `${seconds}s`, '--latency', '--timeout', '10s'];
    const script = luaScript(scenario);
    if (script) argv.push('-s', script);
    argv.push(`http://127.0.0.1:${port}${scenario.path}`);
    const child = spawn('taskset', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('close', () => resolve(parseWrk(out)));
  });
}

function toMs(value, unit) {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60000 }[unit] ?? 1);
}

function parseWrk(out) {
  const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (num(/Non-2xx or 3xx responses: (\d+)/) || 0);
  return { requests: num(/(\d+) requests in/), rps: num(/Requests\/sec:\s+([\d.]+)/), p50: pct(50), p99: pct(99), errors, raw: out };
}

// ---------------------------------------------------------------- one cell

/**
 * Starts `server.argv(scenario.app, port)` pinned to `pin.server`, checks it answers correctly,
 * warms it up, then runs wrk for `seconds` and reads the tree's CPU and RSS over that window.
 * `server.env` (optional) is added to the environment; `server.onWindow(pid)` (optional) runs as
 * the measured window opens and returns a function awaited as it closes (profile.mjs attaches
 * perf there, so the profile covers exactly the requests counted).
 */
export async function measure(server, scenario, seconds, pin = DEFAULT_PIN) {
  const port = await freePort();
  const argv = [...server.argv(scenario.app, port), ...(scenario.static ? server.staticArgs(staticDir()) : [])];
  const child = spawn('taskset', ['-c', pin.server, ...argv], { cwd: apps, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONPATH: apps, ...server.env } });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const command = argv.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ').replaceAll(root + '/', '');
  try {
    await waitReady(port, scenario, child);
    await runWrk(port, { ...scenario, conc: Math.max(Math.min(scenario.conc, 64), pin.threads) }, WARMUP, pin);
    const times0 = treeTimes(child.pid);
    const root0 = rootCpu(child.pid);
    const ticks0 = cpuTicks(pin.server);
    let peakTree = 0;
    let peakRoot = 0;
    const sampler = setInterval(() => {
      let sum = 0;
      for (const pid of tree(child.pid)) sum += rssKb(pid);
      peakTree = Math.max(peakTree, sum);
      peakRoot = Math.max(peakRoot, rssKb(child.pid));
    }, 200);
    const closeWindow = await server.onWindow?.(child.pid);
    const result = await runWrk(port, scenario, seconds, pin);
    await closeWindow?.();
    clearInterval(sampler);
    const times = treeTimes(child.pid);
    const systemSeconds = times.system - times0.system;
    const cpu = times.user - times0.user + systemSeconds;
    const rootCpuSeconds = rootCpu(child.pid) - root0;
    const ticks = cpuTicks(pin.server);
    const still = checkAnswer(scenario, await probe(port, scenario));
    return {
      server: server.name,
      scenario: scenario.name,
      command,
      requests: result.requests,
      rps: result.rps,
      p50ms: result.p50,
      p99ms: result.p99,
      errors: result.errors,
      cpuSeconds: cpu,
      cpuUsPerRequest: result.requests > 0 ? (cpu * 1e6) / result.requests : null,
      cpuMsPer1000: result.requests > 0 ? (cpu * 1e6) / result.requests : null,
      // The root process's share: where the cost sits (Node vs workers, arbiter vs workers).
      rootCpuUsPerRequest: result.requests > 0 ? (rootCpuSeconds * 1e6) / result.requests : null,
      // The kernel's share (stime): on loopback it includes the TCP work of both ends' sockets.
      systemCpuUsPerRequest: result.requests > 0 ? (systemSeconds * 1e6) / result.requests : null,
      stealPct: ticks.total > ticks0.total ? (100 * (ticks.steal - ticks0.steal)) / (ticks.total - ticks0.total) : null,
      peakTreeRssMb: peakTree / 1024,
      peakRootRssMb: peakRoot / 1024,
      healthyAfter: still === null,
      ...(result.requests > 0 ? {} : { wrk: result.raw }),
    };
  } catch (err) {
    return { server: server.name, scenario: scenario.name, command, failed: `${err.message}; stderr: ${stderr.slice(-300)}` };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => (child.kill('SIGKILL'), r()), 5000);
      child.once('exit', () => (clearTimeout(t), r()));
    });
    await sleep(300);
  }
}

/**
 * One cell from its rounds: medians of the rates and costs, the highest peaks, all errors. A round
 * that failed counts only if every round failed; each round's own figures stay in `rounds`.
 */
export function mergeRounds(runs) {
  if (runs.length === 1) return runs[0];
  const good = runs.filter((r) => !r.failed);
  if (good.length === 0) return { ...runs[0], rounds: runs };
  const med = (key) => (good.every((r) => typeof r[key] === 'number') ? median(good.map((r) => r[key])) : null);
  const merged = { ...good[0] };
  for (const key of ['rps', 'p50ms', 'p99ms', 'cpuUsPerRequest', 'cpuMsPer1000', 'rootCpuUsPerRequest', 'systemCpuUsPerRequest', 'stealPct']) merged[key] = med(key);
  merged.requests = good.reduce((n, r) => n + r.requests, 0);
  merged.errors = good.reduce((n, r) => n + r.errors, 0);
  merged.peakTreeRssMb = Math.max(...good.map((r) => r.peakTreeRssMb));
  merged.peakRootRssMb = Math.max(...good.map((r) => r.peakRootRssMb));
  merged.healthyAfter = good.every((r) => r.healthyAfter);
  merged.rounds = runs;
  return merged;
}

/**
 * Replaces the section of RESULTS.md that `lines` (its `## ` heading first) renews, in place; a
 * new section goes before "Exact commands", or at the end. A narrowed run (`--floors`,
 * scaling.mjs) renews its own section and leaves the full run's tables be.
 */
export function replaceResultsSection(lines) {
  const file = join(here, 'RESULTS.md');
  const section = lines.join('\n') + '\n';
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(`\n${lines[0]}\n`);
  const commands = text.indexOf('\n## Exact commands');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else if (commands >= 0) {
    text = text.slice(0, commands + 1) + section + text.slice(commands + 1);
  } else {
    text += '\n' + section;
  }
  writeFileSync(file, text);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function fmt(n, digits = 1) {
  return n === null || n === undefined || Number.isNaN(n) ? '—' : Number(n).toFixed(digits);
}
