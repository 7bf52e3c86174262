// The "Scaling" section of RESULTS.md and results/scaling.png, from a scaling.mjs run's JSON.
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { fmt } from './lib.mjs';

const SERVER_ORDER = ['nodicorn', 'nodicorn-1fe', 'granian', 'gunicorn-sync'];

/** The section's lines, `## Scaling` first (lib.mjs's replaceResultsSection renews it in place). */
export function scalingSection(run, jsonFile) {
  const lines = ['## Scaling', ''];
  const loads = run.loadavg.map((l) => l.one);
  const top = run.ks[run.ks.length - 1];
  lines.push(`\`${run.command}\`, run ${run.date} on ${run.machine.cpus} × ${run.machine.cpuModel} (\`results/${basename(jsonFile)}\`, every round of every cell). k = ${run.ks.join(', ')}: the server tree pinned to k CPUs with \`taskset\`, k workers (nodicorn \`--frontends k -w k\`, granian \`--workers k\`, gunicorn sync \`-w k\`), ${run.seconds} s of wrk per cell after a 2 s warm-up${run.rounds > 1 ? `, each cell the median of ${run.rounds} rounds (servers interleaved, their order rotated each round)` : ''}. The load average (1 min) was ${fmt(loads[0], 2)} as the first cell started, the machine's other work; over the run, the bench's own server and wrk included, it went from ${fmt(Math.min(...loads), 2)} to ${fmt(Math.max(...loads), 2)}.`, '');
  lines.push('| k | server CPUs | wrk CPUs | wrk threads | connections |', '|---|---|---|---|---|');
  for (const k of run.ks) {
    const p = run.pins[k];
    lines.push(`| ${k} | ${p.server} | ${p.load}${p.shared ? ' (**shared** with the server)' : ''} | ${p.threads} | ${p.connections} |`);
  }
  lines.push('');
  if (run.pins[top].shared) lines.push(`At k = ${top} no CPU is left for wrk, so it runs on the server's: its own CPU is counted in no server's figure, but it takes cores the server would otherwise use, and req/s at that k is lower than the server alone could do.`, '');
  if (loads[0] >= 1) lines.push('Other work kept at least one CPU busy before the run began, so other processes were runnable on the server\'s CPUs too: a cell\'s req/s is what the server got of them, not what it can do, and the spread of its rounds shows how much that moved. The CPU per request, counted only while the server ran, is the steadier figure.', '');
  lines.push(`![req/s and CPU µs per request against k](results/scaling.png)`, '');
  lines.push('CPU µs/req is the whole server tree\'s user+system time from `/proc` over the window, divided by the requests wrk completed; each "× k=1" is the cell\'s figure over the same server\'s at k = 1 (for req/s, k× would be perfect scaling; for CPU, 1.00× means splitting the work costs nothing).', '');
  lines.push('| scenario | server | k | req/s | × k=1 | CPU µs/req | × k=1 | p99 ms | req/s per round | errors |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const scenario of run.scenarios) {
    for (const server of SERVER_ORDER) {
      const cells = run.results.filter((r) => r.scenario === scenario && r.server === server).sort((a, b) => a.k - b.k);
      // nodicorn-1fe is not run at k = 1, where it is nodicorn exactly.
      const base = server === 'nodicorn-1fe' ? 'nodicorn' : server;
      const one = run.results.find((r) => r.scenario === scenario && r.server === base && r.k === 1 && !r.failed);
      for (const r of cells) {
        if (r.failed) {
          lines.push(`| ${scenario} | ${server} | ${r.k} | failed: ${oneLine(r.failed)} | | | | | | |`);
          continue;
        }
        const ratio = (key) => (one && one[key] && typeof r[key] === 'number' ? r[key] / one[key] : null);
        const perRound = (r.rounds ?? [r]).map((x) => (x.failed ? 'failed' : fmt(x.rps, 0))).join(', ');
        lines.push(`| ${scenario} | ${server} | ${r.k} | ${fmt(r.rps, 0)} | ${fmt(ratio('rps'), 2)}× | ${fmt(r.cpuUsPerRequest)} | ${fmt(ratio('cpuUsPerRequest'), 2)}× | ${fmt(r.p99ms, 1)} | ${perRound} | ${r.errors} |`);
      }
    }
  }
  lines.push('', 'Commands at the top k (the others differ only in the counts):', '');
  for (const server of SERVER_ORDER) {
    const r = run.results.find((x) => x.server === server && x.k === top);
    if (r) lines.push(`- ${server}: \`taskset -c ${run.pins[top].server} ${r.command}\``);
  }
  lines.push(`- wrk: \`taskset -c ${run.pins[top].load} wrk -t ${run.pins[top].threads} -c ${run.pins[top].connections} -d ${run.seconds}s --latency URL\``, '');
  return lines;
}

/** A failure (`measure`'s "what; stderr: …") as its cause and the server's last word, for a table cell. */
function oneLine(text) {
  const [what, stderr = ''] = text.split('; stderr: ');
  const last = stderr.trim().split('\n').pop();
  return `${what}${last ? ` (${last.slice(0, 100)})` : ''}`.replace(/[|\s]+/g, (m) => (m.includes('|') ? '/' : ' '));
}

const CHART = `
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
run = json.load(open(sys.argv[1]))
ks = run["ks"]
scen = run["scenarios"]
order = [s for s in ${JSON.stringify(SERVER_ORDER)} if any(r["server"] == s for r in run["results"])]
fig, axes = plt.subplots(2, len(scen), figsize=(6 * len(scen), 8), squeeze=False)
rows = [("rps", "requests / second (higher is better)"), ("cpuUsPerRequest", "server CPU µs per request (lower is better)")]
for col, sc in enumerate(scen):
    for row, (key, label) in enumerate(rows):
        ax = axes[row][col]
        for s in order:
            pts = sorted((r["k"], r[key]) for r in run["results"]
                         if r["server"] == s and r["scenario"] == sc and not r.get("failed") and r.get(key) is not None)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=s)
        if len(ks) > 2:
            ax.set_xscale("log", base=2)
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) + (" (wrk shares)" if run["pins"][str(k)]["shared"] else "") for k in ks])
        ax.set_xlabel("k: server cores = workers (= nodicorn front ends)")
        ax.set_ylim(bottom=0)
        ax.set_title(sc + ": " + label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
`;

/** results/scaling.png: req/s (top row) and CPU µs/req (bottom row) against k, one column per scenario. */
export function scalingChart(python, jsonFile, pngFile) {
  const r = spawnSync(python, ['-c', CHART, jsonFile, pngFile], { stdio: 'inherit' });
  if (r.status !== 0) console.log('scaling chart: matplotlib failed; the table is still written');
}
