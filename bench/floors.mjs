// The reference floors: what a Node front end costs per request before any Python runs, measured
// with the same method as the peer matrix (lib.mjs's `measure`), next to uWSGI and nodicorn on
// the same hello in the same run, so the ratios are comparable. run.mjs calls it for full runs
// and for `npm run bench -- --floors`.
import { join } from 'node:path';
import { fmt, here, measure, median } from './lib.mjs';

/** The servers of floor-servers.mjs, cheapest idea first. */
export const FLOORS = [
  { name: 'node:http', variant: 'http', what: 'bare `node:http`, `writeHead` + `end`, 16-byte hello with Content-Length' },
  { name: 'node:net canned', variant: 'net', what: 'bare `node:net`, a canned response per `\\r\\n\\r\\n` (no parsing)' },
  { name: 'net + llhttp', variant: 'llhttp', what: "`node:net` + Node's llhttp binding fed by `'data'` events (`parser.execute`), canned response" },
  { name: 'net + llhttp consume', variant: 'llhttp-consume', what: 'the same binding reading the socket natively (`parser.consume(handle)`, as node:http does), canned response' },
  { name: 'net + llhttp consume + environ', variant: 'llhttp-environ', what: "the same, plus nodicorn's `buildEnviron` and `encodeRequest` (the REQUEST frame) per request" },
];

const floorServer = (f) => ({ name: f.name, argv: (_app, port) => [process.execPath, join(here, 'floor-servers.mjs'), f.variant, String(port)] });

/**
 * Measures every floor, then `peers` (run.mjs's uWSGI and nodicorn entries) on `hello`, `rounds`
 * times interleaved (a shared machine drifts; interleaving spreads the drift over everyone), and
 * reports the median CPU µs/req of each.
 */
export async function measureFloors({ hello, peers, seconds, rounds = 1, log = console.log }) {
  const entries = [...FLOORS.map((f) => ({ server: floorServer(f), what: f.what, kind: 'floor' })), ...peers.map((p) => ({ server: p, what: p.mode, kind: 'peer' }))];
  const cells = new Map(entries.map((e) => [e.server.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const e of entries) {
      const r = await measure(e.server, hello, seconds);
      cells.get(e.server.name).push(r);
      // A window with no request at all (seen on the shared machine) keeps wrk's words for later.
      const wrk = r.wrk ? `  wrk: ${r.wrk.trim().split('\n').slice(-3).join(' | ')}` : '';
      log(`floors ${rounds > 1 ? `#${round} ` : ''}${e.server.name.padEnd(32)} ${r.failed ? `FAILED ${r.failed}` : `${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerRequest, 2).padStart(7)} µs CPU/req (root ${fmt(r.rootCpuUsPerRequest, 2)})  errors ${r.errors}${wrk}`}`);
    }
  }
  return entries.map((e) => {
    const runs = cells.get(e.server.name);
    const good = runs.filter((r) => !r.failed && r.cpuUsPerRequest !== null && r.errors === 0 && r.healthyAfter);
    return {
      name: e.server.name,
      kind: e.kind,
      what: e.what,
      command: runs[0]?.command,
      rounds: runs.length,
      failed: good.length ? undefined : (runs.find((r) => r.failed)?.failed ?? 'errors or unhealthy after the run'),
      rps: good.length ? median(good.map((r) => r.rps)) : null,
      cpuUsPerRequest: good.length ? median(good.map((r) => r.cpuUsPerRequest)) : null,
      rootCpuUsPerRequest: good.length ? median(good.map((r) => r.rootCpuUsPerRequest)) : null,
      systemCpuUsPerRequest: good.length ? median(good.map((r) => r.systemCpuUsPerRequest)) : null,
      cpuUsPerRequestAll: runs.map((r) => r.cpuUsPerRequest ?? null),
      cells: runs,
    };
  });
}

/** RESULTS.md's "Floors" section. */
export function floorsSection(floors, { seconds, conc, date }) {
  const by = (name) => floors.find((f) => f.name === name && !f.failed);
  const uwsgi = by('uwsgi');
  const net = by('node:net canned');
  const lines = ['## Floors', ''];
  lines.push(`Measured ${date}: hello (16 B) at c=${conc}, ${seconds} s after a warm-up, same pinning as above; each column is the median over ${floors[0]?.rounds ?? 1} interleaved round(s); kernel = system time (on loopback it includes the TCP work for both ends). The floors run no Python: they are what the Node side alone costs per request. How they are built: \`bench/floor-servers.mjs\`; what the gaps are made of: \`docs/perf-journal.md\`.`, '');
  lines.push('| reference | what it is | req/s | CPU µs/req | of which kernel | of which the root process | ÷ uWSGI | − node:net canned, µs |', '|---|---|---|---|---|---|---|---|');
  for (const f of floors) {
    if (f.failed) {
      lines.push(`| ${f.name} | ${f.what} | failed: ${f.failed.split(';')[0]} | | | | | |`);
      continue;
    }
    const ratio = uwsgi ? f.cpuUsPerRequest / uwsgi.cpuUsPerRequest : null;
    const over = net ? f.cpuUsPerRequest - net.cpuUsPerRequest : null;
    const rootShare = f.kind === 'peer' ? fmt(f.rootCpuUsPerRequest, 2) : '(one process)';
    lines.push(`| ${f.name} | ${f.what} | ${fmt(f.rps, 0)} | ${fmt(f.cpuUsPerRequest, 2)} | ${fmt(f.systemCpuUsPerRequest, 2)} | ${rootShare} | ${fmt(ratio, 2)}× | ${fmt(over, 2)} |`);
  }
  if (uwsgi) lines.push('', `1.5× cheaper than uWSGI here means at most ${fmt(uwsgi.cpuUsPerRequest / 1.5, 2)} µs CPU per request for the whole tree, Python included.`);
  lines.push('', 'Commands: `taskset -c 0 node bench/floor-servers.mjs VARIANT PORT` (VARIANT: http, net, llhttp, llhttp-consume, llhttp-environ); uWSGI and nodicorn as for hello in the matrix.');
  lines.push('');
  return lines;
}
