import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from '../errors';

/** `dir` made absolute, once checked to be a directory this process can write (else ConfigError). */
export function writableDir(flag: string, dir: string): string {
  const path = resolvePath(dir);
  try {
    if (!statSync(path).isDirectory()) throw new Error('not a directory');
    accessSync(path, fsConstants.W_OK);
  } catch {
    throw new ConfigError(`${flag}: expected a writable directory, got "${path}"`);
  }
  return path;
}
