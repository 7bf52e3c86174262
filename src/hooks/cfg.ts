/**
 * The hooks' `cfg`: every setting under gunicorn's name (its config-file key), as JSON for the
 * Python side (hooks.Settings gives attribute access to it).
 */
import { VALUE_ENTRIES, type Config } from '../config/settings';

export function gunicornCfg(config: Config): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  const values = config as unknown as Record<string, unknown>;
  for (const entry of VALUE_ENTRIES) {
    const name = entry.setting.file;
    if (name !== null) cfg[name] = values[entry.key] ?? null;
  }
  cfg.config = config.config;
  return cfg;
}
