/** Helpers for the config loader's unit tests: a clean env, a temp directory, load or expect one error line. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors';
import { loadConfig, type LoadResult } from './load';

/** The test process's env without anything that would change the defaults. */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('NODICORN_') || k === 'GUNICORN_CMD_ARGS' || k === 'PORT' || k === 'WEB_CONCURRENCY' || k === 'VIRTUAL_ENV' || k === 'FORWARDED_ALLOW_IPS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nodicorn-config-'));
}

export async function load(argv: string[], env: Record<string, string> = {}, cwd = tempDir()) {
  const result = await loadConfig(argv, baseEnv(env), cwd);
  assert.equal(result.kind, 'config');
  return result as Extract<LoadResult, { kind: 'config' }>;
}

export async function loadError(argv: string[], env: Record<string, string> = {}, cwd = tempDir()): Promise<string> {
  try {
    await loadConfig(argv, baseEnv(env), cwd);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

