#!/usr/bin/env node
// Fails when modules, or the top-level folders of src/, import each other in a cycle; prints each
// cycle as a → b → a.
//
// Module edges come from two graphs. The compiled one (the `require("./...")` calls of
// dist/**/*.js) is what runs: a cycle there makes what a module sees at load time depend on which
// module was required first. The source one (src/**/*.ts) adds the type-only imports tsc erases:
// a cycle through them loads fine but still ties two modules so that neither reads alone. An edge
// only the source has is marked (types).
//
// Folder edges are the module edges between src/'s top-level folders (cli, config, http, ...;
// a file directly in src/ counts as its own folder): data flows one way between them, so config/
// may use http/'s address lists but http/ never reads config/.
//
// Usage: node test/import-cycles.mjs [dist-dir] [src-dir]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const dist = resolve(process.argv[2] ?? 'dist');
const src = resolve(process.argv[3] ?? 'src');

function filesEndingIn(dir, ext) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesEndingIn(path, ext));
    else if (name.endsWith(ext) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The module a relative specifier names (x.ext or x/index.ext), as its path under `root` without the extension. */
function resolveSpecifier(root, from, spec, ext) {
  const base = resolve(dirname(from), spec).replace(/\.js$/, '');
  for (const candidate of [`${base}${ext}`, join(base, `index${ext}`)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return relative(root, candidate).slice(0, -ext.length);
  }
  return null;
}

const REQUIRE = /\brequire\(\s*["'](\.{1,2}\/[^"']*)["']\s*\)/g;
// `import ... from './x'`, `import type ...`, `export ... from './x'`, `import './x'`: statements
// that begin a line; [^;]*? keeps to one statement, multi-line name lists included.
const IMPORT = /^\s*(?:import|export)\b[^;]*?['"](\.{1,2}\/[^'"]*)['"]/gm;

/** A graph: node → (node → true when the compiled code has the edge, false when only the source's types do). */
function addEdges(graph, root, ext, pattern, compiled) {
  for (const file of filesEndingIn(root, ext)) {
    const from = relative(root, file).slice(0, -ext.length);
    const out = graph.get(from) ?? new Map();
    graph.set(from, out);
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) {
      const to = resolveSpecifier(root, file, match[1], ext);
      if (to !== null && !out.get(to)) out.set(to, compiled);
    }
  }
}

const modules = new Map();
addEdges(modules, dist, '.js', REQUIRE, true);
if (existsSync(src)) addEdges(modules, src, '.ts', IMPORT, false);

const folderOf = (module) => module.split('/')[0];
const folders = new Map();
for (const [from, out] of modules) {
  const edges = folders.get(folderOf(from)) ?? new Map();
  folders.set(folderOf(from), edges);
  for (const [to, compiled] of out) {
    if (folderOf(to) !== folderOf(from) && !edges.get(folderOf(to))) edges.set(folderOf(to), compiled);
  }
}

/** Tarjan's strongly connected components of more than one node (or of a node that requires itself). */
function knots(graph) {
  const next = (v) => [...(graph.get(v)?.keys() ?? [])].sort();
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const connect = (v) => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indexOf.get(w)));
      }
    }
    if (low.get(v) !== indexOf.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!indexOf.has(v)) connect(v);
  return found.map((members) => ({ members, cycle: shortestCycle(graph, next, members) }));
}

/** The shortest cycle through the component's first member, by breadth-first search inside it. */
function shortestCycle(graph, next, members) {
  const start = members[0];
  const inside = new Set(members);
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of next(v)) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [];
        for (let at = v; at !== null; at = previous.get(at)) path.unshift(at);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function report(kind, graph) {
  const found = knots(graph);
  for (const { members, cycle } of found) {
    let text = cycle[0];
    for (let i = 1; i < cycle.length; i++) text += ` →${graph.get(cycle[i - 1])?.get(cycle[i]) ? '' : ' (types)'} ${cycle[i]}`;
    console.error(`${kind} import cycle: ${text}`);
    if (members.length > cycle.length - 1) console.error(`  (one of the cycles among ${members.join(', ')})`);
  }
  return found.length;
}

const cycles = report('module', modules) + report('folder', folders);
if (cycles > 0) process.exit(1);
console.log(`no import cycles among ${modules.size} modules in ${folders.size} folders of src/`);
