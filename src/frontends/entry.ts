/**
 * A front-end process: started by the master of several (frontends/supervisor.ts) with an IPC
 * channel. It takes the listening sockets and its configuration from the master, then serves as
 * a whole nodicorn does, with its share of the workers, its logs piped to the master and the
 * master's commands in place of signals.
 */
// First of all: SIGUSR1 can no longer open Node's inspector.
import '../process/inspector-guard';
import type { Socket } from 'node:net';
import type { Config } from '../config/settings';
import { ExitCode, NodicornError } from '../errors';
import type { ListenHandle } from '../http/node-internals';
import type { WholeServer } from '../hooks/server-hooks';
import type { ServerView } from '../ops/metrics-server';
import type { RequestStats } from '../ops/request-stats';
import type { MasterActions } from '../process/signals';
import { serve } from '../server';
import { ACCESS_LOG_FD, ERROR_LOG_FD, isToFrontend, type FrontendAction, type ToFrontend, type ToMaster } from './messages';
import { FrontendBalance } from './handoff';
import { reportOf } from './stats';

/**
 * The master relays every signal a front end should act on. The terminal's (Ctrl-C's INT, a
 * process group's TERM) reach the front end too, and must not stop it behind the master's back.
 */
const IGNORED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR2', 'SIGWINCH'];

function tell(message: ToMaster): void {
  process.send?.(message);
}

function run(): void {
  if (!process.send) {
    process.stderr.write('nodicorn: a front end is started by its master (--frontends), not by hand\n');
    process.exit(ExitCode.UNEXPECTED);
  }
  if (process.platform !== 'win32') for (const signal of IGNORED) process.on(signal, () => {});
  const listeners: Array<{ handle: ListenHandle; path: string | null }> = [];
  let latest: Config | null = null;
  let actions: MasterActions | null = null;
  /**
   * Commands that came before serve() took them (it does before binding, as a master takes its
   * signals): a TERM right after this front end was started in place of a dead one. Carried out
   * then, or the stop would be lost and the master would wait for a front end that never goes.
   */
  const early: FrontendAction[] = [];
  let server: WholeServer | null = null;
  let observed: { view: ServerView | null; stats: RequestStats | null } = { view: null, stats: null };
  let balance: FrontendBalance | null = null;
  let go = (): void => {};
  const going = new Promise<void>((resolve) => (go = resolve));
  const onMessage = (message: unknown, handle: unknown): void => {
    if (!isToFrontend(message)) return;
    if (message.t === 'listener') listeners.push({ handle: handle as ListenHandle, path: message.path });
    else if (message.t === 'init') void start(message);
    else if (message.t === 'size' && server) server.numWorkers = message.numWorkers;
    else if (message.t === 'go') go();
    else if (message.t === 'reload') {
      latest = message.config;
      actions?.reload();
    } else if (message.t === 'do') {
      if (actions) perform(actions, message.action);
      else early.push(message.action);
    }
    else if (message.t === 'adopt') balance?.adopt(message, handle as Socket | undefined);
    else if (message.t === 'others') balance?.othersOpen(message);
    else if (message.t === 'stats') tell({ t: 'stats', id: message.id, report: reportOf(observed.view, observed.stats, message.full) });
  };
  process.on('message', onMessage);

  const start = async (init: Extract<ToFrontend, { t: 'init' }>): Promise<void> => {
    latest = init.config;
    server = init.server;
    // The socket goes unless the channel is closed (the master is gone): then it is served here.
    // (send's result is no test: false only says messages wait in line, and this one is sent.)
    balance = new FrontendBalance(init.count, (message, socket) => {
      if (!process.connected || !process.send) return false;
      process.send(message, socket);
      return true;
    });
    let stopped = false;
    // The master is gone (killed, most likely): finish what is running, then go too.
    process.once('disconnect', () => {
      if (!stopped) actions?.stop();
    });
    try {
      await serve(init.config, {
        rereadConfig: async () => latest as Config,
        onFatal: (err) => {
          tell({ t: 'fatal', message: err.message, code: err.exitCode });
          process.exit(err.exitCode);
        },
        frontend: {
          index: init.index,
          count: init.count,
          replacing: init.replacing,
          listeners,
          balance,
          relay: { error: ERROR_LOG_FD, access: ACCESS_LOG_FD },
          control(given) {
            actions = {
              ...given,
              stop: () => {
                stopped = true;
                given.stop();
              },
            };
            // After serve() has its actions in place, as a signal would find them.
            setImmediate(() => {
              for (const action of early.splice(0)) if (actions) perform(actions, action);
            });
            return () => {
              actions = null;
            };
          },
          listening: () => {
            tell({ t: 'listening' });
            return going;
          },
          ready: (pids) => tell({ t: 'ready', pids }),
          server: init.server,
          countRequests: init.countRequests,
          observe: (view, stats) => (observed = { view, stats }),
        },
      });
    } catch (err) {
      const known = err instanceof NodicornError;
      tell({ t: 'fatal', message: known ? err.message : String((err as Error)?.stack ?? err), code: known ? err.exitCode : ExitCode.UNEXPECTED });
      process.exit(known ? err.exitCode : ExitCode.UNEXPECTED);
    }
  };
}

function perform(actions: MasterActions, action: FrontendAction): void {
  if (action === 'stop') actions.stop();
  else if (action === 'quit' || action === 'hurry') actions.quit();
  else if (action === 'reopen') actions.reopenLogs();
  else if (action === 'dumpStacks') actions.dumpStacks();
  else if (action === 'winch') actions.winch();
  else if (action === 'grow') actions.resize(1);
  else actions.resize(-1);
}

run();
