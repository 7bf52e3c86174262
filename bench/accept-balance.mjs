// How Linux spreads connections over several Node processes accepting on one port: the
// measurement behind the accept path of `--frontends N`. Three roles, one file:
//   orchestrator (default): runs every node × variant × load × run, drives wrk, prints the table;
//   master (--role master): binds the listener(s) as the variant says and forks the children;
//   child (--role child): a node:http hello server that counts its connections and requests.
// Node's own modules only; wrk must be on PATH. Talks to 127.0.0.1 only.
import { fork, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
const VARIANTS = ['shared', 'shared-single', 'reuseport', 'reuseport-parent', 'cluster-rr'];
const LOADS = {
  ka64: { c: 64, close: false },
  close64: { c: 64, close: true },
  ka4: { c: 4, close: false },
};
const { values: opt } = parseArgs({
  options: {
    role: { type: 'string', default: 'orchestrator' },
    variant: { type: 'string' },
    node: { type: 'string', default: process.execPath }, // comma-separated binaries
    variants: { type: 'string', default: VARIANTS.join(',') },
    loads: { type: 'string', default: Object.keys(LOADS).join(',') },
    procs: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    'work-us': { type: 'string', default: '0,50' }, // work > 0 runs the keep-alive loads only
    'kill-runs': { type: 'string', default: '2' },
    out: { type: 'string' },
    table: { type: 'string' }, // print the table of a saved JSON instead of measuring
  },
});
const PROCS = Number(opt.procs);

// ---------------------------------------------------------------- child
function child() {
  const workUs = Number(process.env.AB_WORK_US || 0);
  let conns = 0;
  let reqs = 0;
  // Connections that carried a request: wrk opens one more than -c to probe the address, and
  // that one never sends a request.
  const counted = new WeakSet();
  const server = http.createServer((req, res) => {
    reqs++;
    if (!counted.has(req.socket)) { counted.add(req.socket); conns++; }
    if (workUs > 0) { // a front end is busy: burn the CPU a real request would
      const end = process.hrtime.bigint() + BigInt(workUs * 1000);
      while (process.hrtime.bigint() < end);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '6' });
    res.end('hello\n');
  });
  const listening = () => process.send({ type: 'listening', port: server.address().port });
  process.on('message', (msg, handle) => {
    if (msg.type === 'listen-handle') server.listen(handle, listening);
    else if (msg.type === 'listen') server.listen(msg.options, listening);
    else if (msg.type === 'report') process.send({ type: 'report', conns, reqs });
  });
  process.on('disconnect', () => process.exit(0)); // the master is gone
  process.send({ type: 'up' }); // a cluster worker's channel reads from its start: say when we listen
}

// ---------------------------------------------------------------- master
const nextMessage = (proc, types, ms) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => { proc.off('message', on); reject(new Error(`no ${types} in ${ms} ms`)); }, ms);
  const on = (msg) => {
    if (!types.includes(msg?.type)) return;
    clearTimeout(timer); proc.off('message', on); resolve(msg);
  };
  proc.on('message', on);
});

function unsupported(variant) {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (variant === 'reuseport' && (major < 22 || (major === 22 && minor < 12))) return 'listen({reusePort}) needs Node 22.12+';
  if (variant === 'reuseport-parent' && !process.binding('tcp_wrap').constants.UV_TCP_REUSEPORT) {
    return 'tcp_wrap has no UV_TCP_REUSEPORT flag on this Node';
  }
  return null;
}

/** A TCP handle bound to HOST:port and not listening: net's own helper, which node:cluster uses. */
function boundHandle(port, flags) {
  const handle = net._createServerHandle(HOST, port, 4, undefined, flags);
  if (typeof handle === 'number') throw new Error(`bind ${HOST}:${port} failed: errno ${handle}`);
  const out = {};
  handle.getsockname(out);
  return { handle, port: out.port };
}

async function master(variant) {
  const why = unsupported(variant);
  if (why) { process.send({ type: 'unsupported', reason: why }); return; }
  const kids = [];
  process.on('exit', () => { for (const k of kids) if (k.exitCode === null) k.kill('SIGKILL'); });
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
  const env = { ...process.env, AB_WORK_US: opt['work-us'] };
  if (variant === 'shared-single') env.UV_TCP_SINGLE_ACCEPT = '1';
  if (variant === 'cluster-rr') {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    cluster.setupPrimary({ exec: SELF, args: ['--role', 'child'] });
  }
  for (let i = 0; i < PROCS; i++) {
    kids.push(variant === 'cluster-rr' ? cluster.fork(env).process : fork(SELF, ['--role', 'child'], { env }));
  }
  await Promise.all(kids.map((k) => nextMessage(k, ['up'], 10000)));
  const listen = (kid, msg, handle) => { kid.send(msg, handle); return nextMessage(kid, ['listening'], 10000); };
  let port = 0;
  if (variant === 'shared' || variant === 'shared-single') {
    const shared = boundHandle(0, 0); // kept open here, never listened on nor accepted from
    port = shared.port;
    await Promise.all(kids.map((k) => listen(k, { type: 'listen-handle' }, shared.handle)));
  } else if (variant === 'reuseport-parent') {
    const flag = process.binding('tcp_wrap').constants.UV_TCP_REUSEPORT;
    const handles = [boundHandle(0, flag)];
    port = handles[0].port;
    for (let i = 1; i < PROCS; i++) handles.push(boundHandle(port, flag));
    await Promise.all(kids.map((k, i) => listen(k, { type: 'listen-handle' }, handles[i].handle)));
  } else if (variant === 'reuseport') {
    port = (await listen(kids[0], { type: 'listen', options: { host: HOST, port: 0, reusePort: true } })).port;
    for (const k of kids.slice(1)) await listen(k, { type: 'listen', options: { host: HOST, port, reusePort: true } });
  } else if (variant === 'cluster-rr') {
    port = (await Promise.all(kids.map((k) => listen(k, { type: 'listen', options: { host: HOST, port: 0 } }))))[0].port;
  } else throw new Error(`unknown variant ${variant}`);
  process.send({ type: 'ready', port, pids: kids.map((k) => k.pid) });
  process.on('message', async (msg) => {
    if (msg.type !== 'report') return;
    const perChild = await Promise.all(kids.map(async (k) => {
      if (k.exitCode !== null || k.signalCode) return { pid: k.pid, dead: true };
      k.send({ type: 'report' });
      const { conns, reqs } = await nextMessage(k, ['report'], 5000);
      return { pid: k.pid, conns, reqs };
    }));
    process.send({ type: 'report', perChild });
  });
}

// ---------------------------------------------------------------- orchestrator
function parseWrk(text) {
  const n = (re) => Number(text.match(re)?.[1] ?? 0);
  const errors = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requests: n(/(\d+) requests in/),
    rps: n(/Requests\/sec:\s+([\d.]+)/),
    errors: errors ? { connect: +errors[1], read: +errors[2], write: +errors[3], timeout: +errors[4] } : null,
  };
}

let current = null; // the master of the run in flight, killed on any exit
process.on('exit', () => current?.kill('SIGKILL'));
process.on('SIGINT', () => process.exit(130));

async function runOne(nodeBin, variant, load, workUs, seconds, killAtMs) {
  const master = spawn(nodeBin, [SELF, '--role', 'master', '--variant', variant, '--procs', String(PROCS), '--work-us', String(workUs)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  current = master;
  try {
    const ready = await nextMessage(master, ['ready', 'unsupported'], 15000);
    if (ready.type === 'unsupported') return { unsupported: ready.reason };
    const args = ['-t1', `-c${load.c}`, `-d${seconds}s`, ...(load.close ? ['-H', 'Connection: close'] : []), `http://${HOST}:${ready.port}/`];
    const wrk = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    wrk.stdout.on('data', (d) => { text += d; });
    const guard = setTimeout(() => wrk.kill('SIGKILL'), (seconds + 15) * 1000);
    let atKill = null; // the counts just before the kill: what the survivors serve after it is the difference
    const killer = killAtMs ? setTimeout(async () => {
      master.send({ type: 'report' });
      atKill = (await nextMessage(master, ['report'], 10000)).perChild;
      process.kill(ready.pids[1], 'SIGKILL');
    }, killAtMs) : null;
    await new Promise((resolve) => wrk.on('close', resolve));
    clearTimeout(guard); clearTimeout(killer);
    master.send({ type: 'report' });
    const { perChild } = await nextMessage(master, ['report'], 10000);
    return { wrk: parseWrk(text), perChild, ...(killAtMs ? { atKill } : {}) };
  } finally {
    master.kill('SIGTERM');
    current = null;
  }
}

/** The spread of one run over the children still alive at its end. */
function spread(perChild) {
  const live = perChild.filter((c) => !c.dead);
  const sum = (k) => live.reduce((s, c) => s + c[k], 0);
  const reqs = live.map((c) => c.reqs);
  return {
    conns: live.map((c) => c.conns).sort((a, b) => b - a),
    reqs: [...reqs].sort((a, b) => b - a),
    maxMin: Math.min(...reqs) > 0 ? Math.max(...reqs) / Math.min(...reqs) : Infinity,
    maxShare: Math.max(...reqs) / (sum('reqs') || 1),
  };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '∞');

async function orchestrate() {
  const nodes = opt.node.split(',');
  const variants = opt.variants.split(',');
  const loads = opt.loads.split(',');
  const works = opt['work-us'].split(',').map(Number);
  const seconds = Number(opt.seconds);
  const cells = [];
  for (const nodeBin of nodes) {
    const version = (await new Promise((resolve) => {
      let v = ''; const p = spawn(nodeBin, ['-p', 'process.version']);
      p.stdout.on('data', (d) => { v += d; }); p.on('close', () => resolve(v.trim()));
    }));
    for (const variant of variants) for (const work of works) for (const load of loads) {
      if (work > 0 && LOADS[load].close) continue;
      cells.push({ nodeBin, node: version, variant, load, work, runs: [] });
    }
  }
  const skipped = new Map(); // "node variant" -> why it cannot run there
  // Rounds outermost, so a drift of the shared machine falls on every cell alike.
  for (let round = 0; round < Number(opt.runs); round++) {
    for (const cell of cells) {
      const key = `${cell.node} ${cell.variant}`;
      if (skipped.has(key)) { cell.unsupported = skipped.get(key); continue; }
      const r = await runOne(cell.nodeBin, cell.variant, LOADS[cell.load], cell.work, seconds, 0);
      if (r.unsupported) { skipped.set(key, r.unsupported); cell.unsupported = r.unsupported; console.error(`${key}: unsupported: ${r.unsupported}`); continue; }
      const s = spread(r.perChild);
      cell.runs.push({ ...r, spread: s });
      console.error(`${key} ${cell.load} work=${cell.work}: ${r.wrk.rps} req/s, conns ${s.conns.join('/')}, reqs ${s.reqs.join('/')}, max/min ${fmt(s.maxMin)}`);
    }
  }
  const kills = [];
  for (const nodeBin of nodes) for (const variant of variants.filter((v) => v !== 'shared-single')) {
    for (let i = 0; i < Number(opt['kill-runs']); i++) {
      // One child SIGKILLed 2 s into a Connection: close load; the master does not replace it.
      const r = await runOne(nodeBin, variant, LOADS.close64, 0, seconds, 2000);
      if (r.unsupported) break;
      kills.push({ node: cells.find((c) => c.nodeBin === nodeBin).node, variant, ...r });
      console.error(`kill ${variant}: ${r.wrk.requests} requests, errors ${JSON.stringify(r.wrk.errors)}`);
    }
  }
  const out = opt.out ?? join(dirname(SELF), 'results', `accept-balance-${new Date().toISOString().slice(0, 10)}.json`);
  if (!existsSync(dirname(out))) mkdirSync(dirname(out), { recursive: true });
  const data = { date: new Date().toISOString(), argv: { procs: PROCS, seconds, runs: Number(opt.runs), loads: LOADS }, cells, kills };
  writeFileSync(out, JSON.stringify(data, (k, v) => (k === 'nodeBin' ? undefined : v), 1));
  console.error(`wrote ${out}`);
  console.log(table(data));
}

/** The medians over each cell's runs, and every run's connection split (few connections make medians hide a 4/0). */
function table({ cells, kills }) {
  const lines = ['| Node | variant | load | work µs | req/s | connections per child, each run | reqs max/min | reqs max share |',
    '|---|---|---|---|---|---|---|---|'];
  for (const c of cells) {
    const head = `| ${c.node} | ${c.variant} | ${c.load} | ${c.work} |`;
    if (c.unsupported) { lines.push(`${head} — | unsupported: ${c.unsupported} | | |`); continue; }
    if (!c.runs.length) continue;
    const med = (f) => median(c.runs.map(f));
    lines.push(`${head} ${Math.round(med((r) => r.wrk.rps))} | ${c.runs.map((r) => r.spread.conns.join('-')).join(', ')} | `
      + `${fmt(med((r) => r.spread.maxMin ?? Infinity))} | ${fmt(med((r) => r.spread.maxShare))} |`); // JSON keeps ∞ as null
  }
  if (kills.length) {
    lines.push('', '| Node | variant | wrk requests | survivor\'s requests before / after the kill | socket errors connect/read/write/timeout |',
      '|---|---|---|---|---|');
    for (const k of kills) {
      const e = k.wrk.errors ?? { connect: 0, read: 0, write: 0, timeout: 0 };
      const before = k.atKill?.[0].reqs;
      lines.push(`| ${k.node} | ${k.variant} | ${k.wrk.requests} | ${before} / ${k.perChild[0].reqs - before} | ${e.connect}/${e.read}/${e.write}/${e.timeout} |`);
    }
  }
  return lines.join('\n');
}

if (opt.role === 'child') child();
else if (opt.role === 'master') await master(opt.variant);
else if (opt.table) console.log(table(JSON.parse(readFileSync(opt.table, 'utf8'))));
else await orchestrate();
