#!/usr/bin/env node
// Where a floor server's CPU per request goes: `perf record -g` over exactly the measured window
// of lib.mjs's `measure` (same pinning, same wrk load), with Node's --perf-basic-prof so JIT
// frames have names. Each sample's share times the measured CPU µs/req gives µs per request.
//
//   node bench/profile.mjs [--seconds 5] [--top 25] [--scenario hello] VARIANT...
//
// VARIANT: one of floor-servers.mjs's, or `nodicorn` (hello, 2 workers): then only the Node
// process is recorded, and the shares are of its own CPU per request (the workers' is apart).
//
// Prints, per variant: self time by layer (kernel, llhttp, GC, JS, other C++), and the JavaScript
// functions by inclusive time (everything under them, kernel included). Needs `perf` (Debian's
// linux-perf) and permission to attach to a child process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, fmt, here, measure, py, root } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [value] = args.splice(at, 2).slice(1);
  return Number(value);
};
const seconds = opt('--seconds', 5);
const top = opt('--top', 25);
const variants = args.length ? args : ['http', 'llhttp-consume'];
// --scenario picks the load (run.mjs's names); the floor servers answer hello only.
const scenarioAt = args.indexOf('--scenario');
const scenarioName = scenarioAt < 0 ? 'hello' : args.splice(scenarioAt, 2)[1];
const scenario = SCENARIOS.find((s) => s.name === scenarioName);
if (!scenario) throw new Error(`--scenario: expected one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
// --perf-basic-prof names JIT frames in /tmp/perf-PID.map; V8's log it implies goes to `dir`.
const nodeFlags = (dir) => ['--perf-basic-prof', '--interpreted-frames-native-stack', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`];

function argvOf(variant, dir, app, port) {
  if (variant === 'nodicorn') return [process.execPath, ...nodeFlags(dir), join(root, 'bin', 'nodicorn'), app, '--bind', `127.0.0.1:${port}`, '-w', '2', '--python', py, '--log-level', 'warning', '--backlog', '4096'];
  return [process.execPath, ...nodeFlags(dir), join(here, 'floor-servers.mjs'), variant, String(port)];
}

/** The layer a sample's own (leaf) frame belongs to. */
function layer(sym, dso) {
  if (dso.includes('kernel')) return 'kernel (syscalls, loopback TCP both ways)';
  if (sym.startsWith('llhttp__')) return 'llhttp';
  if (/Heap|Scaveng|MarkCompact|Sweep|Marking|Evacuat|RecordWrite|GCTracer|Minor|Concurrent/.test(sym)) return 'V8 GC and write barriers';
  if (dso.startsWith('[JIT]') || sym.startsWith('Builtins_') || sym.startsWith('JS:')) return 'JavaScript (JIT code and V8 builtins)';
  if (/^uv_|^uv__/.test(sym)) return 'libuv';
  if (dso.startsWith('libc')) return 'libc';
  return 'other C++ (node bindings, V8 runtime)';
}

/** `JS:*name file:line:col` → `name file:line`; other frames are not JavaScript. */
function jsName(sym) {
  const m = /^JS:[*~^]?(\S*) (\S+?):(\d+):\d+$/.exec(sym);
  return m ? `${m[1] || '(anonymous)'} ${m[2]}:${m[3]}` : null;
}

/**
 * The system call a kernel sample is under, named by the libc function that entered the kernel
 * (`writev`, `read`, `epoll_pwait`…). On loopback the sender's CPU also runs the receiver's TCP
 * input (softirq under the write): that part is marked, since every server pays it alike.
 */
function syscallOf(frames) {
  const user = frames.find((f) => !f.dso.includes('kernel'));
  let name = '(no user frame)';
  if (user) name = user.dso.startsWith('libc') ? user.sym.replace(/^(__GI_|__libc_|_)+/, '') : '(interrupt in user code)';
  return frames.some((f) => f.sym === 'net_rx_action') ? `${name}: loopback delivery (softirq)` : name;
}

const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

/**
 * Stages of a request's path, by the innermost JavaScript function that owns a user-space sample
 * (node:http's internals on Node 20; the floors' own callbacks fall in the first or the write).
 */
const STAGES = [
  ['socket write (stream machinery, WriteWrap, writev binding)', /^(clearBuffer|writeOrBuffer|_write|onwrite|afterWrite\w*|Writable\.\w+|writeGeneric|writevGeneric|Socket\._writ\w*) /],
  ['response head and body (writeHead, _storeHeader, Date, end)', /^(writeHead|_storeHeader|processHeader|_send|write_|end|utcDate|_implicitHeader|setHeader|OutgoingMessage|ServerResponse|_finish|matchHeader|validateHeader\w*|checkInvalidHeaderChar) node:_http/],
  ['request objects (IncomingMessage, ServerResponse, emit request)', /^(parserOnHeadersComplete|parserOnIncoming|IncomingMessage|ReadableState|Readable|assignSocket|emit|Readable\.on|addListener|_addListener|checkListener|EventEmitter\.init|_addHeaderLines?|onParserExecute\w*) /],
  ['request and response teardown (finish, dump/resume the request, nextTick)', /^(resOnFinish|onFinish|clearIncoming|detachSocket|_dump|resume_?|Readable\.read|Readable\.resume|Readable\.removeListener|removeListener|endReadable\w*|emitReadable_?|_destroy|destroy|onDestroy|nextTick|processTicksAndRejections|processPromiseRejections|parserOnMessageComplete|flow|maybeReadMore_?|howMuchToRead|finishMaybe|prefinish|finish|callFinal|updateOutgoingData) /],
  ['timers (keep-alive and headers timeout per request)', /^(setStreamTimeout|setUnrefTimeout|insert|_unrefActive|unrefActive|Timeout|initAsyncResource|setTimeout|refresh|getTimerDuration|validateNumber) /],
  ['environ and REQUEST frame (nodicorn code)', /^(buildEnviron|encodeRequest|writePairBlock|pairBlockSize|splitTarget|environKey|percentDecodeLatin1|write|writeU_Int32LE|writeUInt32LE|FastBuffer|createPool|alignPool|getEncodingOps|Socket\._getsockname|Socket\._getpeername|checkInt) /],
];

function stageOf(owner, leafLayer) {
  if (!owner) return `native, no JavaScript on the stack: ${leafLayer}`;
  if (owner.includes('floor-servers.mjs')) return 'the floor server\'s own callbacks';
  return STAGES.find(([, re]) => re.test(owner))?.[0] ?? 'other JavaScript';
}

function analyse(script) {
  const self = new Map();
  const syscalls = new Map();
  const symbols = new Map();
  const inclusive = new Map();
  const owners = new Map();
  const stages = new Map();
  let total = 0;
  for (const block of script.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.startsWith('\t') || l.startsWith(' '));
    const frames = lines.map((l) => /^\s*[0-9a-f]+ (.*) \((.*)\)$/.exec(l)).filter(Boolean).map((m) => ({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2].split('/').pop() }));
    if (!frames.length) continue;
    total++;
    const leaf = frames[0];
    const l = layer(leaf.sym, leaf.dso);
    bump(self, l);
    bump(symbols, `${leaf.sym.slice(0, 70)} (${leaf.dso})`);
    if (leaf.dso.includes('kernel')) bump(syscalls, syscallOf(frames));
    // The innermost JavaScript function on the stack owns the sample, with whatever native code
    // and system calls it made: these owners partition the whole profile.
    const owner = frames.map((f) => jsName(f.sym)).find(Boolean);
    bump(owners, owner ?? `(no JavaScript on the stack) ${leaf.dso.includes('kernel') ? `kernel: ${syscallOf(frames)}` : l}`);
    bump(stages, leaf.dso.includes('kernel') ? 'kernel (all system calls and loopback TCP)' : stageOf(owner, l));
    const seen = new Set();
    for (const f of frames) {
      const name = jsName(f.sym);
      if (name && !seen.has(name)) {
        seen.add(name);
        bump(inclusive, name);
      }
    }
  }
  return { total, self, syscalls, symbols, inclusive, owners, stages };
}

async function profile(variant) {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-prof-'));
  const data = join(dir, 'perf.data');
  const maps = [];
  const server = {
    name: variant,
    argv: (app, port) => argvOf(variant, dir, app, port),
    onWindow: async (pid) => {
      maps.push(`/tmp/perf-${pid}.map`);
      const perf = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(pid), '-o', data], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 300));
      return () => new Promise((r) => (perf.once('exit', r), perf.kill('SIGINT')));
    },
  };
  // Other sessions on a shared machine can starve a window; such a profile says nothing.
  let cell;
  for (let attempt = 1; attempt <= 3; attempt++) {
    cell = await measure(server, scenario, seconds);
    if (cell.failed || cell.requests > 1000 * seconds) break;
    console.log(`${variant}: only ${cell.requests} requests in the window, measuring again`);
  }
  if (cell.failed || !cell.requests) throw new Error(`${variant}: ${cell.failed ?? 'wrk completed no request'}`);
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 }).stdout;
  rmSync(dir, { recursive: true, force: true });
  for (const map of maps) rmSync(map, { force: true });
  const { total, self, syscalls, symbols, inclusive, owners, stages } = analyse(script);
  // perf follows the root process only: its shares are of the root's CPU (all of it for a floor).
  const base = cell.rootCpuUsPerRequest;
  const us = (n) => (n / total) * base;
  console.log(`\n${variant}: ${fmt(cell.rps, 0)} req/s, ${fmt(cell.cpuUsPerRequest, 2)} µs CPU/req for the tree, ${fmt(base, 2)} in the profiled process, ${total} samples`);
  console.log('  self time by layer                              µs/req   share');
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1])) console.log(`  ${name.padEnd(46)} ${fmt(us(n), 2).padStart(7)} ${fmt((100 * n) / total, 1).padStart(6)} %`);
  const list = (title, map, n) => {
    console.log(`  ${title}`);
    for (const [name, k] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`    ${name.slice(0, 76).padEnd(78)} ${fmt(us(k), 2).padStart(7)}`);
  };
  list('kernel time by system call', syscalls, 10);
  list('by stage: kernel, then user-space time by the innermost JavaScript function\'s stage', stages, 20);
  list(`hottest symbols, self time (top ${top})`, symbols, top);
  list(`innermost JavaScript function on the stack, with the native code it called (top ${top})`, owners, top);
  console.log(`  JavaScript functions by inclusive time (top ${top})`);
  for (const [name, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${name.slice(0, 60).padEnd(62)} ${fmt(us(n), 2).padStart(7)}`);
}

for (const v of variants) await profile(v);
