/**
 * The command line: argv → config → serve(). Help and version print and exit 0; a bad setting
 * prints one line, `nodicorn: error: <message>`, and exits 2.
 */
import { loadConfig } from '../config/load';
import { renderConfig } from '../config/print';
import { checkApp } from './check';
import { ConfigError, ExitCode, NodicornError } from '../errors';
import { printErr, printOut } from '../log/console';
import { guardInspectorSignal } from '../process/signals';
import { serve } from '../server';

async function fail(err: unknown): Promise<never> {
  if (err instanceof NodicornError) {
    await printErr(`nodicorn: error: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  await printErr(`nodicorn: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(ExitCode.UNEXPECTED);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  // First of all: from here on, SIGUSR1 cannot open Node's inspector.
  guardInspectorSignal();
  let result;
  try {
    result = await loadConfig(argv, process.env, process.cwd());
  } catch (err) {
    if (err instanceof ConfigError) {
      await printErr(`nodicorn: error: ${err.message}\n`);
      process.exit(ExitCode.USAGE);
    }
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
    await serve(config, {
      handleSignals: true,
      onFatal: (err) => process.exit(err.exitCode),
    });
  } catch (err) {
    return fail(err);
  }
}

if (require.main === module) void main();
