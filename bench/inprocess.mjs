// The apps' own in-process cost (inprocess.py) for run.mjs: measured on the server CPU, and set
// next to every server's tree CPU per request in RESULTS.md (issue 4: nodicorn within 10 % of it
// on the Flask and Django views).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SERVER_CPU, fmt, here, py } from './lib.mjs';

/** The scenarios worth an in-process figure: hello for scale, the two framework views as targets. */
const WANTED = ['hello', 'flask-json', 'django-template'];
const TARGET = 1.1;

/** Runs inprocess.py pinned to the server CPU for the run's matching scenarios; null when none. */
export function measureInprocess(scenarios) {
  const specs = scenarios.filter((s) => WANTED.includes(s.name)).map((s) => `${s.name}=${s.app}:${s.path}:${s.expectIncludes ?? s.expect ?? ''}`);
  if (!specs.length) return null;
  const argv = ['-c', SERVER_CPU, py, join(here, 'inprocess.py'), '--json', '--worker', ...specs.flatMap((s) => ['--app', s])];
  const r = spawnSync('taskset', argv, { encoding: 'utf8' });
  if (r.status !== 0) return { failed: (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-1)[0] };
  return JSON.parse(r.stdout);
}

/** RESULTS.md's "In-process cost" section: each server's tree CPU µs/req over the app's own. */
export function inprocessSection(run) {
  const inproc = run.inprocess;
  if (!inproc) return [];
  const lines = ['## In-process cost (the app alone)', ''];
  if (inproc.failed) return [...lines, `inprocess.py failed: ${inproc.failed}`, ''];
  const apps = inproc.apps.filter((a) => !a.failed);
  lines.push(`\`bench/inprocess.py\` calls each WSGI app directly in a loop on CPU ${SERVER_CPU} (fresh environ per request, result iterated and closed): CPU µs per request, median of ${inproc.runs} runs, Python ${inproc.python}. The second row runs the same requests through nodicorn's worker code in memory (REQUEST frames in batches of 8, answer frames encoded, no pipe): the worker's own Python cost without syscalls. The target for nodicorn on the Flask and Django views is a tree cost at most ${TARGET.toFixed(2)}× this.`, '');
  lines.push(`| server | ${apps.map((a) => `${a.name} µs/req | ÷ in-process`).join(' | ')} |`);
  lines.push(`|---|${apps.map(() => '---|---').join('|')}|`);
  lines.push(`| (in-process) | ${apps.map((a) => `${fmt(a.usPerRequest, 2)} | 1.00×`).join(' | ')} |`);
  // The same requests through nodicorn's worker runner in memory: its Python cost, no syscalls.
  const viaWorker = (a) => (a.worker?.usPerRequest ? `${fmt(a.worker.usPerRequest, 2)} | ${fmt(a.worker.usPerRequest / a.usPerRequest, 2)}×` : '— | —');
  lines.push(`| (in-process, through nodicorn's worker runner, no pipe) | ${apps.map(viaWorker).join(' | ')} |`);
  for (const server of run.servers.filter((s) => !s.missing)) {
    const cells = apps.map((a) => {
      const r = run.results.find((x) => x.server === server.name && x.scenario === a.name && !x.failed);
      return r?.cpuUsPerRequest ? `${fmt(r.cpuUsPerRequest)} | ${fmt(r.cpuUsPerRequest / a.usPerRequest, 2)}×` : '— | —';
    });
    lines.push(`| ${server.name} | ${cells.join(' | ')} |`);
  }
  for (const a of inproc.apps.filter((x) => x.failed)) lines.push('', `${a.name}: in-process run failed: ${a.failed}`);
  lines.push('');
  return lines;
}
