/**
 * How often a periodic check looks for connections past a timeout: a quarter of it, 0.25 to 5 s,
 * so a connection is caught within 1.25× the setting without a timer per connection.
 */
export function sweepInterval(timeoutMs: number): number {
  return Math.min(5000, Math.max(250, Math.floor(timeoutMs / 4)));
}
