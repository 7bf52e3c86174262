/**
 * --shutdown-delay: the pause between SIGTERM and the listeners closing, while a load balancer
 * notices (through /readyz, or its own failing checks) that this server is leaving. QUIT during
 * a graceful stop hurries it: the pause ends, and in-flight requests are not waited for.
 */
export class StopDelay {
  private cut: (() => void) | null = null;
  /** QUIT arrived during the stop. */
  hurried = false;

  /** Resolves after `ms`, or at once when hurried. */
  wait(ms: number): Promise<void> {
    if (ms <= 0 || this.hurried) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.cut = null;
        resolve();
      }
      this.cut = done;
    });
  }

  hurry(): void {
    this.hurried = true;
    this.cut?.();
  }
}
