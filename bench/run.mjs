#!/usr/bin/env node
// The benchmark: nodicorn against gunicorn, uWSGI, granian, waitress (and bjoern when it
// builds), each pinned to the same core with the same app file and worker count, with wrk
// pinned to the other core. Figures: req/s, latency, errors, CPU µs per request of the whole
// server process tree (from /proc), and its peak RSS. `--quick`: hello vs gunicorn and uWSGI.
//
// A full run (no --quick/--only/--servers) adds the reference floors (floors.mjs) and the apps'
// in-process cost (inprocess.py); `--floors [--rounds N]` measures the floors alone.
//
// Usage: npm run bench [-- --quick] [-- --only hello,get10k] [-- --servers nodicorn,gunicorn-sync]
//                      [-- --floors [--rounds 3]] [-- --rounds 3]
//                      [-- --node 20,22,24 --engines lean,node]  (nodicorn per Node and engine: engines.mjs)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { nodicornVariants, pairsSummary } from './engines.mjs';
import { floorsSection, measureFloors } from './floors.mjs';
import { inprocessSection, measureInprocess } from './inprocess.mjs';
import { LOAD_CPU, SCENARIOS, SERVER_CPU, fmt, here, measure, mergeRounds, py, replaceResultsSection } from './lib.mjs';
import { serverList, setup, withVersions } from './servers.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1]?.split(',') : undefined;
};
const WORKERS = 2;
const DURATION = quick ? 5 : 10;

/** Each server with `WORKERS` workers (servers.mjs). */
const SERVERS = serverList(WORKERS);

// ---------------------------------------------------------------- reports

function writeReport(run) {
  const lines = [];
  lines.push('# Benchmark results', '');
  lines.push(`Run ${run.date} on ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memGb} GiB, ${run.machine.kernel}.`);
  lines.push(`Server tree pinned to CPU ${SERVER_CPU} with \`taskset\`, wrk (1 thread) pinned to CPU ${LOAD_CPU}; ${DURATION} s per cell after a 2 s warm-up${(run.rounds ?? 1) > 1 ? `; each cell the median of ${run.rounds} interleaved rounds of the whole matrix` : ''}; ${WORKERS} workers everywhere a server has a process pool.`);
  lines.push('CPU µs/req is the whole server process tree\'s user+system time (from `/proc`) divided by the requests wrk completed: the fairest cost figure when wrk is the ceiling.');
  const steals = run.results.map((r) => r.stealPct).filter((v) => typeof v === 'number').sort((a, b) => a - b);
  if (steals.length) lines.push(`"steal %" is the share of the server core's time the hypervisor gave to other machines during the cell (from \`/proc/stat\`); this run: median ${fmt(steals[Math.floor(steals.length / 2)], 0)} %, highest ${fmt(steals[steals.length - 1], 0)} %. Where it is high, the machine's neighbours were busy and the cell is noisier; compare ratios within one run.`);
  lines.push('');
  lines.push('| server | version | mode |', '|---|---|---|');
  for (const s of run.servers) lines.push(`| ${s.name} | ${s.version ?? 'missing'} | ${s.missing ? `**missing**: ${s.missing}` : s.mode} |`);
  lines.push('');
  for (const scenario of run.scenarios) {
    const cells = run.results.filter((r) => r.scenario === scenario.name);
    const ours = cells.find((r) => r.server === 'nodicorn' && !r.failed);
    lines.push(`## ${scenario.name} (c=${scenario.conc})`, '');
    lines.push('| server | req/s | p50 ms | p99 ms | errors | CPU µs/req | peak tree RSS MB | steal % | nodicorn req/s ratio | nodicorn CPU ratio |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of cells) {
      if (r.failed) {
        lines.push(`| ${r.server} | failed: ${r.failed.split(';')[0]} | | | | | | | | |`);
        continue;
      }
      const rpsRatio = ours && r.rps ? ours.rps / r.rps : null;
      const cpuRatio = ours && r.cpuUsPerRequest ? ours.cpuUsPerRequest / r.cpuUsPerRequest : null;
      lines.push(`| ${r.server} | ${fmt(r.rps, 0)} | ${fmt(r.p50ms, 2)} | ${fmt(r.p99ms, 2)} | ${r.errors} | ${fmt(r.cpuUsPerRequest)} | ${fmt(r.peakTreeRssMb)} | ${fmt(r.stealPct, 0)} | ${fmt(rpsRatio, 2)}× | ${fmt(cpuRatio, 2)}× |`);
    }
    if (ours) lines.push('', `nodicorn's Node process peaked at ${fmt(ours.peakRootRssMb)} MB RSS.`);
    lines.push('');
  }
  lines.push(...inprocessSection(run), ...(run.floors ? floorsSection(run.floors, floorsContext(run)) : []));
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

// ---------------------------------------------------------------- floors and in-process cost

const HELLO = SCENARIOS.find((s) => s.name === 'hello');

/** The floors next to uWSGI and nodicorn on hello: floors.mjs measures, this picks the peers. */
function measureFloorsWith(servers) {
  const peers = servers.filter((s) => (s.name === 'uwsgi' || s.name === 'nodicorn') && !s.missing);
  const rounds = Number(option('--rounds')?.[0] ?? 1);
  return measureFloors({ hello: HELLO, peers, seconds: DURATION, rounds });
}

const floorsContext = (run) => ({ seconds: DURATION, conc: HELLO.conc, date: run.date });

/** `--floors` alone: its own JSON, and RESULTS.md's "Floors" section replaced in place. */
function writeFloorsOnly(run) {
  const stamp = run.date.replace(/[:.]/g, '-');
  writeFileSync(join(here, 'results', `floors-${stamp}.json`), JSON.stringify(run, null, 1));
  replaceResultsSection(floorsSection(run.floors, floorsContext(run)));
  console.log(`results: results/floors-${stamp}.json, bench/RESULTS.md (Floors)`);
}

// ---------------------------------------------------------------- main

async function main() {
  setup({ bjoern: !quick });
  mkdirSync(join(here, 'results'), { recursive: true });
  const onlyScenarios = option('--only');
  const onlyServers = option('--servers') ?? (quick ? ['nodicorn', 'gunicorn-sync', 'uwsgi'] : undefined);
  const scenarios = SCENARIOS.filter((s) => (onlyScenarios ? onlyScenarios.includes(s.name) : quick ? s.name === 'hello' : true));
  const variants = option('--node') || option('--engines') ? nodicornVariants(SERVERS[0], option('--node'), option('--engines')) : null;
  const chosen = SERVERS.filter((s) => !onlyServers || onlyServers.includes(s.name));
  const servers = withVersions(variants ? chosen.flatMap((s) => (s.name === 'nodicorn' ? variants : [s])) : chosen);
  const run = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGb: Math.round(totalmem() / 2 ** 30), kernel: readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' '), node: process.version, python: spawnSync(py, ['-V'], { encoding: 'utf8' }).stdout.trim() },
    servers: servers.map(({ name, mode, version, missing }) => ({ name, mode, version, missing })),
    scenarios,
    results: [],
  };
  for (const s of servers) if (s.missing) console.log(`${s.name}: MISSING (${s.missing})`);
  if (args.includes('--floors')) {
    run.scenarios = [];
    run.floors = await measureFloorsWith(servers);
    return writeFloorsOnly(run);
  }
  // --rounds N: the whole matrix N times over, each cell then the median of its rounds. The
  // machine's speed drifts by minutes; interleaving spreads the drift over every server alike.
  const rounds = Math.max(1, Number(option('--rounds')?.[0] ?? 1));
  const cells = new Map();
  for (let round = 1; round <= rounds; round++) {
    for (const scenario of scenarios) {
      for (const server of servers) {
        if (server.missing || (scenario.static && !server.staticArgs)) continue;
        process.stdout.write(`${rounds > 1 ? `#${round} ` : ''}${scenario.name.padEnd(16)} ${server.name.padEnd(17)} `);
        const r = await measure(server, scenario, DURATION);
        const key = `${server.name} ${scenario.name}`;
        cells.set(key, [...(cells.get(key) ?? []), r]);
        console.log(r.failed ? `FAILED ${r.failed}` : `${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerRequest).padStart(7)} µs CPU/req (root ${fmt(r.rootCpuUsPerRequest)})  p99 ${fmt(r.p99ms, 1)} ms  errors ${r.errors}  rss ${fmt(r.peakTreeRssMb, 0)} MB  steal ${fmt(r.stealPct, 0)} %`);
      }
    }
  }
  for (const runs of cells.values()) run.results.push(mergeRounds(runs));
  if (variants && option('--engines')?.length > 1) {
    run.enginePairs = scenarios.flatMap((s) => pairsSummary(variants, cells, s.name));
    console.log(run.enginePairs.join('\n'));
  }
  run.rounds = rounds;
  if (!quick && !variants) run.inprocess = measureInprocess(scenarios);
  // A run narrowed to some servers, scenarios or Node binaries is partial: it leaves RESULTS.md be.
  const narrowed = onlyScenarios || option('--servers') || variants;
  if (!quick && !narrowed) run.floors = await measureFloorsWith(servers);
  const kind = quick ? 'quick' : narrowed ? 'partial' : 'full';
  const file = join(here, 'results', `${kind}-${run.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(run, null, 1));
  if (kind !== 'partial') writeFileSync(join(here, 'results', `latest${quick ? '-quick' : ''}.json`), JSON.stringify(run, null, 1));
  // Only a full run replaces RESULTS.md and the chart: a narrowed one would wipe the full table.
  if (kind === 'full') {
    writeReport(run);
    writeChart(file);
  }
  console.log(`results: ${file}${kind === 'full' ? ', bench/RESULTS.md, bench/results/chart.png' : ''}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
