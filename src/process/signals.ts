/**
 * The master's signals, as gunicorn's arbiter answers them:
 *
 *   TERM, INT  graceful stop          QUIT  quick stop (workers killed, master exits)
 *   HUP        new workers replace the old ones     TTIN / TTOU  one worker more / less
 *   USR1       reopen the log files   USR2  re-exec a new master on the same listeners
 *   WINCH      stop the workers, when daemonized (else ignored, as gunicorn does)
 *   URG        (nodicorn's own) log every worker's Python stacks, nothing stopped
 *
 * Windows has none of these but TERM and INT (and Node emulates those).
 */

export interface MasterActions {
  stop(): void;
  quit(): void;
  reload(): void;
  resize(delta: number): void;
  reopenLogs(): void;
  reexec(): void;
  winch(): void;
  dumpStacks(): void;
}

/** What USR1 does now; nothing until the logs exist. */
let onUsr1 = (): void => {};
let usr1Guarded = false;

/**
 * Node's own SIGUSR1 handler opens the inspector on 127.0.0.1:9229, which lets any local user
 * run code as the server's user. A JS listener replaces that handler (libuv installs its own),
 * and removing the last listener would not bring it back but leave the default action (the
 * process dies): so one listener is installed as early as the CLI runs and stays for the
 * process's life, and only what it calls changes. Node's --disable-sigusr1 (22.14+) is no
 * substitute: with it, JS listeners never see SIGUSR1 either, so the logs could not be reopened.
 */
export function guardInspectorSignal(): void {
  if (usr1Guarded || process.platform === 'win32') return;
  usr1Guarded = true;
  process.on('SIGUSR1', () => onUsr1());
}

/** Installs the handlers; returns a function that removes them (USR1 then does nothing). */
export function installSignals(actions: MasterActions): () => void {
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGTERM', () => actions.stop()],
    ['SIGINT', () => actions.stop()],
  ];
  if (process.platform !== 'win32') {
    guardInspectorSignal();
    onUsr1 = () => actions.reopenLogs();
    handlers.push(
      ['SIGQUIT', () => actions.quit()],
      ['SIGHUP', () => actions.reload()],
      ['SIGTTIN', () => actions.resize(1)],
      ['SIGTTOU', () => actions.resize(-1)],
      ['SIGUSR2', () => actions.reexec()],
      ['SIGWINCH', () => actions.winch()],
      // gunicorn leaves URG alone, and its default (ignored) harms nothing where nodicorn is not.
      ['SIGURG', () => actions.dumpStacks()],
    );
  }
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    onUsr1 = () => {};
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
