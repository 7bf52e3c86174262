/**
 * Config files: a gunicorn-style Python file or `python:package.module`, evaluated by the worker
 * interpreter through python/nodicorn_worker/dumpconfig.py (which prints its plain module-level
 * names as JSON, and which server hooks it defines), or a .json file with the same keys.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { HOOK_ENTRIES } from './settings';

const DUMP_SCRIPT = join(__dirname, '..', '..', 'python', 'nodicorn_worker', 'dumpconfig.py');

/** Evaluating a config file that hangs (waits on the network, say) must not hang startup forever. */
const EVALUATE_TIMEOUT_MS = 60_000;

export interface FileValues {
  /** Module-level names and their JSON values. */
  values: Record<string, unknown>;
  /** Names whose values JSON cannot carry (objects, callables the dumper did not recognise). */
  unserializable: string[];
  /** gunicorn names of the server hooks the file defines as functions. */
  hooks: string[];
}

/** '(worker, req, environ[, resp])' → 'post_request:3-4': the name and how many arguments it takes. */
function hookArg(file: string, signature: string): string {
  const count = (text: string): number => text.split(',').filter((p) => p.replace(/[()[\]\s]/g, '') !== '').length;
  return `${file}:${count(signature.split('[')[0] ?? '')}-${count(signature)}`;
}

const HOOK_ARGS = HOOK_ENTRIES.map((e) => hookArg(e.setting.file, e.setting.signature)).join(',');

/** `label` names the file and where its path came from, for errors: `--config (from argv)`. */
export async function readConfigFile(file: string, python: string, cwd: string, env: NodeJS.ProcessEnv, label: string): Promise<FileValues> {
  if (file.toLowerCase().endsWith('.json')) return readJson(file, label);
  const output = await run(python, [DUMP_SCRIPT, file, '--hooks', HOOK_ARGS], cwd, env, file, label);
  const parsed = JSON.parse(output) as Partial<FileValues>;
  return { values: parsed.values ?? {}, unserializable: parsed.unserializable ?? [], hooks: parsed.hooks ?? [] };
}

async function readJson(file: string, label: string): Promise<FileValues> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${label}: expected a readable config file, got "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${label}: expected a JSON object in "${file}", got invalid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`${label}: expected a JSON object in "${file}", got ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return { values: value as Record<string, unknown>, unserializable: [], hooks: [] };
}

function run(python: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, file: string, label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      args,
      { cwd, env: { ...env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: EVALUATE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(stdout);
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && !stderr) {
          reject(new ConfigError(`${label}: cannot run ${python} to evaluate "${file}" (not found; set --python)`));
          return;
        }
        // The last line of a traceback says what went wrong: "NameError: name 'x' is not defined".
        const lines = String(stderr).trim().split(/\r?\n/);
        const last = lines[lines.length - 1] || (err.killed ? 'timed out' : err.message);
        reject(new ConfigError(`${label}: expected a config file that runs, got an error from "${file}": ${last}`));
      },
    );
  });
}
