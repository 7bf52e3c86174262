/** --env KEY=VALUE items → the environment the workers (and the --check-config import) get. */
export function envPairs(raw: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of raw) {
    const eq = item.indexOf('=');
    env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}
