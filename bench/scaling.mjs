#!/usr/bin/env node
// The scaling scenario: req/s and CPU per request as a server is given k = 1, 2, 4, … cores, up
// to `--cores` (default: every core this process may run on). At each k the server tree is pinned
// to k CPUs with k workers (nodicorn with k front ends as well), and wrk to the CPUs left over;
// at the top k there are none left, so wrk shares the server's (the output says so).
//
// Usage: npm run bench:scaling [-- --cores C] [--rounds R] [--seconds S]
//                              [--servers nodicorn,granian,gunicorn-sync] [--only hello,flask]
// Writes results/scaling-DATE.json (every round of every cell) and, unless --servers or --only
// narrows the run, the "Scaling" section of RESULTS.md and results/scaling.png.
// `--report results/scaling-DATE.json` writes that section and plot again from a run's JSON.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS, cpuList, fmt, here, measure, mergeRounds, py, replaceResultsSection, tree } from './lib.mjs';
import { scalingChart, scalingSection } from './scaling-report.mjs';
import { serverList, setup, withVersions } from './servers.mjs';

const args = process.argv.slice(2);

function fail(message) {
  process.stderr.write(`scaling.mjs: ${message}\n`);
  process.exit(2);
}

function option(name, fallback) {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) fail(`${name} needs a value`);
  return value;
}

function count(name, fallback) {
  const value = option(name, undefined);
  if (value === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(value)) fail(`${name} ${value}: expected a whole number of at least 1`);
  return Number(value);
}

const KNOWN = ['--cores', '--rounds', '--seconds', '--servers', '--only', '--report'];
for (let i = 0; i < args.length; i += 2) if (!KNOWN.includes(args[i])) fail(`unknown option ${args[i]} (expected one of ${KNOWN.join(', ')})`);

/** The CPUs this process may run on (its affinity), lowest first: the server gets a prefix. */
function allowedCpus() {
  const line = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return line ? cpuList(line[1]) : Array.from({ length: availableParallelism() }, (_, i) => i);
}

const ALLOWED = allowedCpus();
const CORES = count('--cores', ALLOWED.length);
if (CORES > ALLOWED.length) fail(`--cores ${CORES}: expected at most ${ALLOWED.length}, the CPUs this process may run on (${ALLOWED.join(',')})`);
const ROUNDS = count('--rounds', 1);
const SECONDS = count('--seconds', 10);

/** k = 1, 2, 4, … below CORES, then CORES itself. */
const KS = [];
for (let k = 1; k < CORES; k *= 2) KS.push(k);
KS.push(CORES);

/**
 * Where a cell with k server cores runs. wrk gets the machine's other CPUs, one thread per CPU up
 * to k of them (one wrk thread drives more than one server core: wrk is the cheaper side of each
 * request). With none left it shares the server's CPUs, with one thread per four of them.
 */
function pinFor(k) {
  const server = ALLOWED.slice(0, k);
  const free = ALLOWED.slice(k);
  const shared = free.length === 0;
  return {
    server: server.join(','),
    load: (shared ? server : free).join(','),
    threads: shared ? Math.max(1, Math.floor(k / 4)) : Math.min(free.length, k),
    shared,
  };
}

/** wrk's connections at k: enough to keep k workers busy. */
const connections = (k) => Math.max(32, 16 * k);

const SCENARIO_NAMES = { hello: 'hello', flask: 'flask-json', 'flask-json': 'flask-json' };
const only = option('--only', 'hello,flask').split(',');
for (const name of only) if (!SCENARIO_NAMES[name]) fail(`--only ${name}: expected hello or flask`);
const scenarios = [...new Set(only.map((n) => SCENARIO_NAMES[n]))].map((n) => SCENARIOS.find((s) => s.name === n));

/** nodicorn-1fe: nodicorn with one front end at every k, what `--frontends auto` picks up to 4 cores. */
const SERVER_NAMES = ['nodicorn', 'nodicorn-1fe', 'granian', 'gunicorn-sync'];
const serverNames = option('--servers', SERVER_NAMES.join(',')).split(',');
for (const name of serverNames) if (!SERVER_NAMES.includes(name)) fail(`--servers ${name}: expected some of ${SERVER_NAMES.join(', ')}`);

/**
 * The servers at k workers; nodicorn with k front ends too, said even at k = 1 (where it is one
 * Node process, as without the flag) since the default, auto, depends on the machine.
 */
function serversAt(k) {
  const frontends = (s, n, name) => ({ ...s, name, mode: `--frontends ${n}, ${s.mode}`, argv: (app, port) => [...s.argv(app, port), '--frontends', String(n)] });
  return serverList(k)
    .flatMap((s) => (s.name === 'nodicorn' ? [frontends(s, k, 'nodicorn'), ...(k > 1 ? [frontends(s, 1, 'nodicorn-1fe')] : [])] : [s]))
    .filter((s) => serverNames.includes(s.name));
}

/**
 * The server's processes by name as its measured window opens (`node: 3, python3: 2`): shows that
 * k front ends and k workers are really running, whatever the flags promised.
 */
function census(pid) {
  const names = {};
  for (const p of tree(pid)) {
    try {
      const name = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      names[name] = (names[name] ?? 0) + 1;
    } catch {
      // exited since the walk
    }
  }
  return names;
}

/** Measures one cell, with the census of the server's processes taken as the window opens. */
async function measureCell(server, scenario, pin) {
  let processes = null;
  const r = await measure({ ...server, onWindow: (pid) => void (processes = census(pid)) }, scenario, SECONDS, pin);
  return { ...r, processes };
}

/** The section and the plot of a run already made. */
function report(file) {
  replaceResultsSection(scalingSection(JSON.parse(readFileSync(file, 'utf8')), file));
  scalingChart(py, file, join(here, 'results', 'scaling.png'));
  console.log(`from ${file}: bench/RESULTS.md (Scaling), bench/results/scaling.png`);
}

async function main() {
  const replay = option('--report', undefined);
  if (replay) return report(replay);
  setup({ packages: ['gunicorn', 'granian', 'flask', 'matplotlib'] });
  mkdirSync(join(here, 'results'), { recursive: true });
  const servers = withVersions(serversAt(1));
  for (const s of servers) if (s.missing) console.log(`${s.name}: MISSING (${s.missing})`);
  const present = new Set(servers.filter((s) => !s.missing).map((s) => s.name));
  // nodicorn-1fe is nodicorn with other flags, from k = 2 on.
  if (present.has('nodicorn')) present.add('nodicorn-1fe');
  const run = {
    date: new Date().toISOString(),
    command: `npm run bench:scaling${args.length ? ` -- ${args.join(' ')}` : ''}`,
    machine: { cpus: cpus().length, allowed: ALLOWED, cpuModel: cpus()[0]?.model ?? '?', kernel: readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' '), node: process.version },
    cores: CORES,
    ks: KS,
    pins: Object.fromEntries(KS.map((k) => [k, { ...pinFor(k), connections: connections(k) }])),
    rounds: ROUNDS,
    seconds: SECONDS,
    servers: servers.map(({ name, version, missing }) => ({ name, version, missing })),
    scenarios: scenarios.map((s) => s.name),
    loadavg: [],
    results: [],
  };
  for (const k of KS) {
    const p = run.pins[k];
    console.log(`k=${k}: server on CPU ${p.server}, wrk ${p.threads} thread(s) on CPU ${p.load}${p.shared ? ' (SHARED with the server: no CPU left over)' : ''}, ${p.connections} connections`);
  }
  const cells = new Map();
  const sampleLoad = () => run.loadavg.push({ at: new Date().toISOString(), one: loadavg()[0] });
  for (let round = 1; round <= ROUNDS; round++) {
    for (const base of scenarios) {
      for (const k of KS) {
        const scenario = { ...base, conc: connections(k) };
        const atK = serversAt(k).filter((s) => present.has(s.name));
        // Rotate who goes first each round, so no server always meets the same minute of a drift.
        const order = atK.map((_, i) => atK[(i + round - 1) % atK.length]);
        for (const server of order) {
          sampleLoad();
          process.stdout.write(`${ROUNDS > 1 ? `#${round} ` : ''}${base.name.padEnd(11)} k=${String(k).padEnd(3)} ${server.name.padEnd(14)} `);
          const r = { ...(await measureCell(server, scenario, run.pins[k])), k, round };
          const key = `${server.name} ${base.name} ${k}`;
          cells.set(key, [...(cells.get(key) ?? []), r]);
          console.log(r.failed ? `FAILED ${r.failed.replace(/\s+/g, ' ').slice(0, 300)}` : `${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerRequest).padStart(7)} µs CPU/req  errors ${r.errors}  steal ${fmt(r.stealPct, 0)} %  load ${fmt(loadavg()[0], 2)}  processes ${Object.entries(r.processes ?? {}).map(([n, c]) => `${c} ${n}`).join(', ')}`);
        }
      }
    }
  }
  sampleLoad();
  for (const runs of cells.values()) run.results.push({ ...mergeRounds(runs), k: runs[0].k });
  const file = join(here, 'results', `scaling-${run.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(run, null, 1));
  const narrowed = args.includes('--servers') || args.includes('--only');
  if (!narrowed) {
    replaceResultsSection(scalingSection(run, file));
    scalingChart(py, file, join(here, 'results', 'scaling.png'));
  }
  const loads = run.loadavg.map((l) => l.one);
  console.log(`load average (1 min) over the run: ${fmt(Math.min(...loads), 2)} to ${fmt(Math.max(...loads), 2)}`);
  console.log(`results: ${file}${narrowed ? '' : ', bench/RESULTS.md (Scaling), bench/results/scaling.png'}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
