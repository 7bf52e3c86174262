/**
 * The command line: argv → config → serve(). Help and version print and exit 0; a bad setting
 * prints one line, `nodicorn: error: <message>`, and exits 2.
 */
// First of all, before the other modules load: SIGUSR1 can no longer open Node's inspector.
import '../process/inspector-guard';
import { loadConfig } from '../config/load';
import type { Config } from '../config/settings';
import { renderConfig } from '../config/print';
import { checkApp } from './check';
import { ConfigError, ExitCode, NodicornError } from '../errors';
import { printErr, printOut } from '../log/console';
import { serve } from '../server';
import { frontendCount } from '../frontends/count';
import { serveFrontends } from '../frontends/master';
import { daemonize, daemonStatus } from '../process/daemon';
import { FD_ENV } from '../process/reexec';

/** Set in the detached process of --daemon: where start-up errors must also be told. */
const daemon = daemonStatus();

async function fail(err: unknown): Promise<never> {
  const known = err instanceof NodicornError;
  const line = known ? `nodicorn: error: ${err.message}` : `nodicorn: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const code = known ? err.exitCode : ExitCode.UNEXPECTED;
  daemon?.failed(line, code);
  await printErr(`${line}\n`);
  process.exit(code);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const startDir = process.cwd();
  let result;
  try {
    result = await loadConfig(argv, process.env, startDir);
  } catch (err) {
    return fail(err);
  }
  if (result.kind !== 'config') {
    await printOut(result.text);
    process.exit(ExitCode.OK);
  }
  for (const warning of result.warnings) await printErr(`nodicorn: warning: ${warning}\n`);
  const { config } = result;
  if (config.printConfig || config.checkConfig) {
    if (config.printConfig) await printOut(renderConfig(config));
    const check = await checkApp(config);
    if (!check.ok) await printErr(check.output);
    process.exit(check.ok ? ExitCode.OK : ExitCode.UNEXPECTED);
  }
  try {
    // A master started by USR2 (NODICORN_FD set, as gunicorn's GUNICORN_FD) is already detached.
    if (config.daemon && daemon === null && process.env[FD_ENV] === undefined) await daemonize(config.enableStdioInheritance);
    const options = {
      handleSignals: true,
      rereadConfig: () => rereadConfig(argv, startDir),
      onFatal: (err: NodicornError) => process.exit(err.exitCode),
    };
    const resolved = withFrontends(config);
    if (resolved.frontends > 1) await serveFrontends(resolved, resolved.frontends, options);
    else await serve(resolved, options);
    daemon?.ready();
  } catch (err) {
    return fail(err);
  }
}

/** HUP: the same command line, config file and environment, read again. */
async function rereadConfig(argv: string[], startDir: string): Promise<Config> {
  const result = await loadConfig(argv, process.env, startDir);
  if (result.kind !== 'config') throw new ConfigError('the command line no longer starts a server');
  return withFrontends(result.config);
}

/** --frontends as a count ("auto" worked out for -w on this machine's cores). */
function withFrontends(config: Config): Config & { frontends: number } {
  return { ...config, frontends: frontendCount(config.frontends, config.workers) };
}

if (require.main === module) void main();
