// A/B pairs for a change on the request path: nodicorn from two checkouts (each built), measured
// by lib.mjs's `measure` in interleaved pairs on one scenario, so a drifting machine moves both
// sides of a pair alike. Prints each pair and the median of the B/A ratios of CPU per request.
//
// Usage: node bench/ab.mjs --a DIR --b DIR [--a-args "FLAGS"] [--b-args "FLAGS"] [--scenario hello]
//                         [--pairs 4] [--seconds 8] [--python PY]
//   DIR: a checkout with dist/ built (`git worktree add /tmp/before HEAD~1 && (cd /tmp/before && npm ci && npm run build)`).
//   FLAGS: extra nodicorn flags for that side, space-separated: the same DIR twice with
//   `--b-args "--metrics-bind 127.0.0.1:9109"` measures what a setting costs.
//   PY: the workers' interpreter (default bench/.venv's; the hello scenarios need only the stdlib).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SCENARIOS, fmt, measure, median, py as benchPython } from './lib.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function fail(message) {
  process.stderr.write(`ab.mjs: ${message}\n`);
  process.exit(2);
}

const dirs = { A: option('--a'), B: option('--b') };
if (!dirs.A || !dirs.B) fail('--a DIR and --b DIR are required');
const scenario = SCENARIOS.find((s) => s.name === option('--scenario', 'hello')) ?? fail(`no scenario ${option('--scenario')}`);
const pairs = Number(option('--pairs', '4'));
const seconds = Number(option('--seconds', '8'));
const python = resolve(option('--python', benchPython));
if (!existsSync(python)) fail(`no interpreter at ${python} (--python PY, or npm run bench once to make bench/.venv)`);

function server(label, dir, extra) {
  const cli = join(resolve(dir), 'bin', 'nodicorn');
  if (!existsSync(join(resolve(dir), 'dist', 'cli', 'main.js'))) fail(`${dir}: no dist/ (build it first)`);
  return {
    name: `nodicorn-${label}`,
    argv: (app, port) => [process.execPath, cli, app, '--bind', `127.0.0.1:${port}`, '-w', '2', '--python', python, '--log-level', 'warning', '--backlog', '4096', ...extra],
    env: {},
  };
}

const flags = (name) => (option(name, '') ?? '').split(' ').filter((f) => f !== '');
const sides = { A: server('A', dirs.A, flags('--a-args')), B: server('B', dirs.B, flags('--b-args')) };
const ratios = [];
for (let i = 0; i < pairs; i++) {
  // Alternate which side goes first, so neither always meets the warmer (or cooler) minute.
  const order = i % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
  const got = {};
  for (const side of order) got[side] = await measure(sides[side], scenario, seconds);
  for (const side of order) if (got[side].failed) fail(`pair ${i + 1}, ${side}: ${got[side].failed}`);
  const ratio = got.B.cpuUsPerRequest / got.A.cpuUsPerRequest;
  ratios.push(ratio);
  const line = (s) => `${s} ${fmt(got[s].cpuUsPerRequest, 2)} µs/req (Node ${fmt(got[s].rootCpuUsPerRequest, 2)}), ${fmt(got[s].rps, 0)} req/s`;
  process.stdout.write(`pair ${i + 1}: ${line('A')}; ${line('B')}; B/A ${fmt(ratio, 3)}\n`);
}
process.stdout.write(`${scenario.name}: median B/A of CPU per request over ${pairs} pairs: ${fmt(median(ratios), 3)}\n`);
