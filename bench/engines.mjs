// nodicorn on several Node binaries and HTTP/1.1 engines, as separate servers of one run:
// `--node 20,22,24` (a major: .node-versions/MAJOR/bin/node, which test/node-versions.sh
// fetches; or a path to a node binary) and `--engines lean,node`. With `--rounds N` every
// variant is measured once per round, one after the other, so each round gives one lean/node
// pair per Node measured a minute apart at most; `pairsSummary` reports the median of those
// per-round ratios, which a machine whose speed drifts between rounds does not skew.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, median, root } from './lib.mjs';

/** A --node value to a node binary: a major's cached official build, or a path. */
function nodeBinary(value) {
  const file = /^\d+$/.test(value) ? join(root, '.node-versions', value, 'bin', 'node') : value;
  if (!existsSync(file)) throw new Error(`--node ${value}: ${file} not found (bash test/node-versions.sh ${value} fetches a major)`);
  return file;
}

/** run.mjs's nodicorn entry once per (Node, engine), each named `nodicorn node24.1.0 lean`. */
export function nodicornVariants(base, nodes, engines) {
  const bins = (nodes ?? [process.execPath]).map(nodeBinary);
  const variants = [];
  for (const bin of bins) {
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    for (const engine of engines ?? ['lean']) {
      variants.push({
        ...base,
        name: `nodicorn node${version.slice(1)} ${engine}`,
        node: version,
        engine,
        argv: (app, port) => [bin, ...base.argv(app, port).slice(1), '--http-engine', engine],
      });
    }
  }
  return variants;
}

/**
 * Per Node: the lean/node ratio of CPU µs per request in each round, their median, and the
 * faster engine by it. `cells`: run.mjs's map of `server scenario` to that cell's rounds.
 */
export function pairsSummary(variants, cells, scenario) {
  const lines = [];
  for (const node of new Set(variants.map((v) => v.node))) {
    const of = (engine) => cells.get(`${variants.find((v) => v.node === node && v.engine === engine)?.name} ${scenario}`) ?? [];
    const lean = of('lean');
    const other = of('node');
    const ratios = [];
    for (let i = 0; i < Math.min(lean.length, other.length); i++) {
      const a = lean[i]?.cpuUsPerRequest;
      const b = other[i]?.cpuUsPerRequest;
      if (typeof a === 'number' && typeof b === 'number' && !lean[i].failed && !other[i].failed) ratios.push(a / b);
    }
    const us = (runs) => fmt(median(runs.filter((r) => !r.failed && typeof r.cpuUsPerRequest === 'number').map((r) => r.cpuUsPerRequest)), 2);
    if (ratios.length === 0) {
      lines.push(`${node} ${scenario}: no complete lean/node pair`);
      continue;
    }
    const ratio = median(ratios);
    lines.push(`${node} ${scenario}: lean ${us(lean)} µs, node:http ${us(other)} µs CPU/req (medians); lean/node per pair ${ratios.map((r) => fmt(r, 3)).join(' ')}, median ${fmt(ratio, 3)}: ${ratio < 1 ? 'lean' : 'node:http'} is faster`);
  }
  return lines;
}
