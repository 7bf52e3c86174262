/**
 * --shutdown-delay: the pause between SIGTERM and the listeners closing, while a load balancer
 * notices (through /readyz, or its own failing checks) that this server is leaving. QUIT cuts
 * it short.
 */
export class StopDelay {
  private cut: (() => void) | null = null;

  /** Resolves after `ms`, or at once when cut. */
  wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
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

  /** Ends a running wait now; true if there was one. */
  cutShort(): boolean {
    const cut = this.cut;
    cut?.();
    return cut !== null;
  }
}
