// Bounded waits: every wait in the tests has a deadline, so a broken server fails a test instead
// of hanging the run.
import { performance } from 'node:perf_hooks';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check()` until it returns truthy or `ms` pass; returns the last value. */
export async function waitUntil(check, ms = 5_000, everyMs = 50) {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = check();
    if (value || performance.now() > deadline) return value;
    await sleep(everyMs);
  }
}
