/** The programmatic API: `serve()` with a config built from the same registry as the CLI. */
export { serve, type ServerHandle, type ServeOptions } from './server';
export type { Config } from './config/settings';
export { NodicornError, ConfigError, HttpError, ExitCode } from './errors';
