/**
 * Keeps V8's young generation at 8 MiB per semi-space, where Node 20 lets it grow to 16 MiB.
 *
 * Why: under many concurrent requests (c=256) every scavenge finds live request objects, V8
 * doubles the new space until it reaches its maximum, and the master's RSS settles near 90 MB.
 * With 8 MiB it settles near 77 MB. `--max-semi-space-size=8` does the same, but V8 reads it only
 * at startup, and a CLI cannot put flags before its own start without a shebang that breaks on
 * busybox and in npm's Windows shims, or a re-exec that would change the master's PID.
 *
 * How: V8 grows the new space by `--semi-space-growth-factor` (default 2) after a scavenge, and
 * reads that flag each time it grows. After each GC, the factor is set to 1 once the new space
 * is at the cap, and back to 2 below it (V8 shrinks the new space again when allocation slows).
 * The growth steps are powers of two from 1 MiB, so 2 lands exactly on the cap. The flag may also
 * be set while V8 runs on the Node majors in CHECKED_MAJORS (Node turns off V8's flag freezing).
 *
 * A user who chose the young generation's size themselves (`--max-semi-space-size` or
 * `--semi-space-growth-factor` in Node's options or NODE_OPTIONS) keeps their choice.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** The Node majors whose V8 was checked to read the growth factor at each growth. */
const CHECKED_MAJORS = [20];

/** The cap, as new_space's size in V8's heap statistics (both semi-spaces: 2 × 8 MiB). */
export const NEW_SPACE_CAP_BYTES = 16 * 1024 * 1024;

const USER_CHOICE = /--(?:max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/;

/** Why the cap is not applied here, or null when it can be. */
export function capRefusal(execArgv: readonly string[], nodeOptions: string | undefined, version = process.versions.node): string | null {
  if (!CHECKED_MAJORS.includes(Number(version.split('.')[0]))) return `Node ${version} is not one of the checked majors`;
  if (USER_CHOICE.test(`${execArgv.join(' ')} ${nodeOptions ?? ''}`)) return 'the young generation was sized by a Node option';
  return null;
}

function newSpaceBytes(): number {
  for (const space of getHeapSpaceStatistics()) if (space.space_name === 'new_space') return space.space_size;
  return 0;
}

/**
 * Starts capping the young generation, unless capRefusal() gives a reason; returns a function
 * that stops it (the growth factor then goes back to V8's default), or null.
 */
export function capYoungGeneration(): (() => void) | null {
  if (capRefusal(process.execArgv, process.env.NODE_OPTIONS) !== null) return null;
  if (newSpaceBytes() === 0) return null;
  let factor = 0;
  const check = (): void => {
    const next = newSpaceBytes() >= NEW_SPACE_CAP_BYTES ? 1 : 2;
    if (next === factor) return;
    factor = next;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    observer.disconnect();
    setFlagsFromString('--semi-space-growth-factor=2');
  };
}
