#!/usr/bin/env node
// The benchmark: nodicorn against gunicorn, uWSGI, granian, waitress (and bjoern when it
// builds), each pinned to the same core with the same app file and worker count, with wrk
// pinned to the other core. Figures: req/s, latency, errors, CPU µs per request of the whole
// server process tree (from /proc), and its peak RSS. `--quick`: hello vs gunicorn and uWSGI.
//
// Usage: npm run bench [-- --quick] [-- --only hello,get10k] [-- --servers nodicorn,gunicorn-sync]
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const apps = join(here, 'apps');
const venv = join(here, '.venv');
const py = join(venv, 'bin', 'python');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1]?.split(',') : undefined;
};
const WORKERS = 2;
const DURATION = quick ? 5 : 10;
const SERVER_CPU = '0';
const LOAD_CPU = cpus().length > 1 ? '1' : '0';

// ---------------------------------------------------------------- setup, from nothing

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  return r.status === 0;
}

function setup() {
  if (!has('wrk')) {
    console.log('installing wrk (Debian)…');
    sh('apt-get', ['update', '-qq']);
    sh('apt-get', ['install', '-y', '-qq', 'wrk']);
    if (!has('wrk')) throw new Error('wrk is required and could not be installed');
  }
  if (!existsSync(py)) sh('python3', ['-m', 'venv', venv]);
  const want = ['gunicorn', 'granian', 'waitress', 'pyuwsgi', 'flask', 'django', 'matplotlib'];
  const missing = want.filter((p) => !pipHas(p));
  if (missing.length) sh(py, ['-m', 'pip', 'install', '-q', ...missing]);
  // bjoern needs libev headers to build; it is optional and reported missing when it fails.
  if (!pipHas('bjoern') && !quick) {
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

const bin = (name) => join(venv, 'bin', name);

/** Each server: how it is started for `module:attr` on a port, and its mode, for the table. */
const SERVERS = [
  {
    name: 'nodicorn',
    mode: `${WORKERS} workers × 1 thread, keep-alive`,
    version: () => JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    argv: (app, port) => [process.execPath, join(root, 'bin', 'nodicorn'), app, '--bind', `127.0.0.1:${port}`, '-w', String(WORKERS), '--python', py, '--log-level', 'warning', '--backlog', '4096'],
  },
  {
    name: 'gunicorn-sync',
    mode: `${WORKERS} sync workers (no keep-alive: sync closes every connection)`,
    version: () => pipVersion('gunicorn'),
    argv: (app, port) => [bin('gunicorn'), '-w', String(WORKERS), '-b', `127.0.0.1:${port}`, '--log-level', 'warning', '--backlog', '4096', app],
  },
  {
    name: 'gunicorn-gthread',
    mode: `${WORKERS} gthread workers × 4 threads, keep-alive`,
    version: () => pipVersion('gunicorn'),
    argv: (app, port) => [bin('gunicorn'), '-k', 'gthread', '--threads', '4', '-w', String(WORKERS), '-b', `127.0.0.1:${port}`, '--log-level', 'warning', '--backlog', '4096', app],
  },
  {
    name: 'uwsgi',
    mode: `${WORKERS} processes, --http11-socket, keep-alive`,
    version: () => pipVersion('pyuwsgi'),
    argv: (app, port) => [bin('uwsgi'), '--http11-socket', `127.0.0.1:${port}`, '--processes', String(WORKERS), '--module', app, '--master', '--disable-logging', '--die-on-term', '--listen', '1024', '--need-app'],
  },
  {
    name: 'granian',
    mode: `${WORKERS} workers, WSGI interface, keep-alive`,
    version: () => pipVersion('granian'),
    argv: (app, port) => [bin('granian'), '--interface', 'wsgi', '--workers', String(WORKERS), '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning', app],
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

// ---------------------------------------------------------------- scenarios

const SCENARIOS = [
  { name: 'hello', app: 'scenarios:hello', path: '/', conc: 64, expect: 'Hello my friend!' },
  { name: 'hello-c256', app: 'scenarios:hello', path: '/', conc: 256, expect: 'Hello my friend!' },
  { name: 'get10k', app: 'scenarios:get10k', path: '/', conc: 64, expectLength: 10240 },
  { name: 'echo10k', app: 'scenarios:echo', path: '/', conc: 64, body: 10240, expectLength: 10240 },
  { name: 'download1m', app: 'scenarios:download1m', path: '/', conc: 64, expectLength: 1048576 },
  { name: 'upload10m', app: 'scenarios:upload', path: '/', conc: 64, body: 10 * 1048576, expect: String(10 * 1048576) },
  { name: 'flask-json', app: 'flask_bench:app', path: '/api/items', conc: 64, expectIncludes: '"total":10' },
  { name: 'django-template', app: 'django_bench:application', path: '/page/', conc: 64, expectIncludes: 'ROW 19' },
  { name: 'sleep10ms-c256', app: 'scenarios:sleep10', path: '/', conc: 256, expect: 'slept' },
];

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

function tree(rootPid) {
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
function rootCpu(rootPid) {
  const st = procStat(rootPid);
  return st ? (st.utime + st.stime) / TICK : 0;
}

/** CPU seconds used by the tree, including children that already exited (cutime/cstime). */
function treeCpu(rootPid) {
  let ticks = 0;
  for (const pid of tree(rootPid)) {
    const st = procStat(pid);
    if (st) ticks += st.utime + st.stime + (pid === rootPid ? st.cutime + st.cstime : 0);
  }
  return ticks / TICK;
}

function rssKb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- running one cell

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** One request with a raw socket: returns {status, body}. */
function probe(port, scenario) {
  return new Promise((resolve, reject) => {
    const sock = createConnection(port, '127.0.0.1');
    const chunks = [];
    const body = scenario.body ? Buffer.alloc(scenario.body, 'x') : null;
    sock.setTimeout(10000, () => sock.destroy(new Error('probe timeout')));
    sock.on('connect', () => {
      const head = `${body ? 'POST' : 'GET'} ${scenario.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n` : ''}\r\n`;
      sock.write(head);
      if (body) sock.write(body);
    });
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const raw = Buffer.concat(chunks);
      const sep = raw.indexOf('\r\n\r\n');
      const head = raw.subarray(0, sep).toString('latin1');
      let payload = raw.subarray(sep + 4);
      if (/transfer-encoding:\s*chunked/i.test(head)) payload = dechunk(payload);
      resolve({ status: Number(head.split(' ')[1]), body: payload });
    });
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

function checkAnswer(scenario, answer) {
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

function luaScript(scenario) {
  if (!scenario.body) return null;
  const file = join(here, 'results', `.post-${scenario.body}.lua`);
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = string.rep("x", ${scenario.body})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
  return file;
}

function runWrk(port, scenario, seconds) {
  return new Promise((resolve) => {
    const argv = ['-c', LOAD_CPU, 'wrk', '-t', '1', '-c', String(scenario.conc), '-d', `${seconds}s`, '--latency', '--timeout', '10s'];
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

async function measure(server, scenario) {
  const port = await freePort();
  const argv = server.argv(scenario.app, port);
  const child = spawn('taskset', ['-c', SERVER_CPU, ...argv], { cwd: apps, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PYTHONPATH: apps } });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)));
  const command = argv.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ').replaceAll(root + '/', '');
  try {
    await waitReady(port, scenario, child);
    await runWrk(port, { ...scenario, conc: Math.min(scenario.conc, 64) }, 2); // warm-up
    const cpu0 = treeCpu(child.pid);
    const root0 = rootCpu(child.pid);
    let peakTree = 0;
    let peakRoot = 0;
    const sampler = setInterval(() => {
      let sum = 0;
      for (const pid of tree(child.pid)) sum += rssKb(pid);
      peakTree = Math.max(peakTree, sum);
      peakRoot = Math.max(peakRoot, rssKb(child.pid));
    }, 200);
    const result = await runWrk(port, scenario, DURATION);
    clearInterval(sampler);
    const cpu = treeCpu(child.pid) - cpu0;
    const rootCpuSeconds = rootCpu(child.pid) - root0;
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
      peakTreeRssMb: peakTree / 1024,
      peakRootRssMb: peakRoot / 1024,
      healthyAfter: still === null,
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

// ---------------------------------------------------------------- reports

function fmt(n, digits = 1) {
  return n === null || n === undefined || Number.isNaN(n) ? '—' : Number(n).toFixed(digits);
}

function writeReport(run) {
  const lines = [];
  lines.push('# Benchmark results', '');
  lines.push(`Run ${run.date} on ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memGb} GiB, ${run.machine.kernel}.`);
  lines.push(`Server tree pinned to CPU ${SERVER_CPU} with \`taskset\`, wrk (1 thread) pinned to CPU ${LOAD_CPU}; ${DURATION} s per cell after a 2 s warm-up; ${WORKERS} workers everywhere a server has a process pool.`);
  lines.push('CPU µs/req is the whole server process tree\'s user+system time (from `/proc`) divided by the requests wrk completed: the fairest cost figure when wrk is the ceiling.', '');
  lines.push('| server | version | mode |', '|---|---|---|');
  for (const s of run.servers) lines.push(`| ${s.name} | ${s.version ?? 'missing'} | ${s.missing ? `**missing**: ${s.missing}` : s.mode} |`);
  lines.push('');
  for (const scenario of run.scenarios) {
    const cells = run.results.filter((r) => r.scenario === scenario.name);
    const ours = cells.find((r) => r.server === 'nodicorn' && !r.failed);
    lines.push(`## ${scenario.name} (c=${scenario.conc})`, '');
    lines.push('| server | req/s | p50 ms | p99 ms | errors | CPU µs/req | peak tree RSS MB | nodicorn req/s ratio | nodicorn CPU ratio |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of cells) {
      if (r.failed) {
        lines.push(`| ${r.server} | failed: ${r.failed.split(';')[0]} | | | | | | | |`);
        continue;
      }
      const rpsRatio = ours && r.rps ? ours.rps / r.rps : null;
      const cpuRatio = ours && r.cpuUsPerRequest ? ours.cpuUsPerRequest / r.cpuUsPerRequest : null;
      lines.push(`| ${r.server} | ${fmt(r.rps, 0)} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${r.errors} | ${fmt(r.cpuUsPerRequest)} | ${fmt(r.peakTreeRssMb)} | ${fmt(rpsRatio, 2)}× | ${fmt(cpuRatio, 2)}× |`);
    }
    if (ours) lines.push('', `nodicorn's Node process peaked at ${fmt(ours.peakRootRssMb)} MB RSS.`);
    lines.push('');
  }
  lines.push('## Exact commands', '');
  const seen = new Set();
  for (const r of run.results) {
    const key = `${r.server} ${r.scenario}`;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(`- ${key}: \`taskset -c ${SERVER_CPU} ${r.command}\``);
  }
  lines.push('', `Load: \`taskset -c ${LOAD_CPU} wrk -t 1 -c C -d ${DURATION}s --latency URL\` (POST scenarios add \`-s\` with a Lua body script).`, '');
  writeFileSync(join(here, 'RESULTS.md'), lines.join('\n'));
}

function writeChart(jsonFile) {
  const script = `
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
run = json.load(open(sys.argv[1]))
cells = [r for r in run["results"] if not r.get("failed")]
scen = [s["name"] for s in run["scenarios"]]
servers = [s["name"] for s in run["servers"] if not s.get("missing")]
fig, axes = plt.subplots(2, 1, figsize=(13, 9))
width = 0.8 / max(1, len(servers))
for k, (key, label) in enumerate([("rps", "requests / second (higher is better)"), ("cpuUsPerRequest", "server CPU µs per request (lower is better)")]):
    ax = axes[k]
    for i, s in enumerate(servers):
        vals = []
        for sc in scen:
            hit = [r for r in cells if r["server"] == s and r["scenario"] == sc]
            vals.append(hit[0][key] if hit and hit[0][key] is not None else 0)
        ax.bar([j + i * width for j in range(len(scen))], vals, width, label=s)
    ax.set_xticks([j + width * (len(servers) - 1) / 2 for j in range(len(scen))])
    ax.set_xticklabels(scen, rotation=20)
    ax.set_yscale("log")
    ax.set_title(label)
    ax.grid(axis="y", alpha=0.3)
axes[0].legend(ncol=len(servers), fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
`;
  const r = spawnSync(py, ['-c', script, jsonFile, join(here, 'results', 'chart.png')], { stdio: 'inherit' });
  if (r.status !== 0) console.log('chart: matplotlib failed; the table is still written');
}

// ---------------------------------------------------------------- main

async function main() {
  setup();
  mkdirSync(join(here, 'results'), { recursive: true });
  const onlyScenarios = option('--only');
  const onlyServers = option('--servers') ?? (quick ? ['nodicorn', 'gunicorn-sync', 'uwsgi'] : undefined);
  const scenarios = SCENARIOS.filter((s) => (onlyScenarios ? onlyScenarios.includes(s.name) : quick ? s.name === 'hello' : true));
  const servers = SERVERS.filter((s) => !onlyServers || onlyServers.includes(s.name)).map((s) => {
    const version = s.version();
    const exe = s.argv('m:a', 1)[0];
    const missing = !existsSync(exe) ? `${exe} not installed` : version === null && s.name !== 'nodicorn' ? 'not installed' : null;
    return { ...s, version, missing };
  });
  const run = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGb: Math.round(totalmem() / 2 ** 30), kernel: readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' '), node: process.version, python: spawnSync(py, ['-V'], { encoding: 'utf8' }).stdout.trim() },
    servers: servers.map(({ name, mode, version, missing }) => ({ name, mode, version, missing })),
    scenarios,
    results: [],
  };
  for (const s of servers) if (s.missing) console.log(`${s.name}: MISSING (${s.missing})`);
  for (const scenario of scenarios) {
    for (const server of servers) {
      if (server.missing) continue;
      process.stdout.write(`${scenario.name.padEnd(16)} ${server.name.padEnd(17)} `);
      const r = await measure(server, scenario);
      run.results.push(r);
      console.log(r.failed ? `FAILED ${r.failed}` : `${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerRequest).padStart(7)} µs CPU/req (root ${fmt(r.rootCpuUsPerRequest)})  p99 ${fmt(r.p99ms, 1)} ms  errors ${r.errors}  rss ${fmt(r.peakTreeRssMb, 0)} MB`);
    }
  }
  const file = join(here, 'results', `${quick ? 'quick' : 'full'}-${run.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(run, null, 1));
  writeFileSync(join(here, 'results', `latest${quick ? '-quick' : ''}.json`), JSON.stringify(run, null, 1));
  if (!quick) {
    writeReport(run);
    writeChart(file);
  }
  console.log(`results: ${file}${quick ? '' : ', bench/RESULTS.md, bench/results/chart.png'}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
