/**
 * What the master and its front ends say to each other over the IPC channel (JSON). The
 * listening sockets travel as the handles of `listener` messages, in bind order, before `init`.
 */
import type { Config } from '../config/settings';
import type { WholeServer } from '../hooks/server-hooks';
import type { HandoffToFrontend, HandoffToMaster } from './handoff';
import type { FrontendReport } from './stats';

/** The master's signals, as commands: what each front end does of them. */
export type FrontendAction = 'stop' | 'quit' | 'hurry' | 'reopen' | 'dumpStacks' | 'winch' | 'grow' | 'shrink';

export type ToFrontend =
  | { t: 'listener'; path: string | null }
  /**
   * `countRequests`: the master serves --metrics-bind, so the front end keeps RequestStats.
   * `replacing`: started in place of one that died, while the others serve.
   */
  | { t: 'init'; config: Config; index: number; count: number; server: WholeServer; countRequests: boolean; replacing: boolean }
  /** The whole server's worker count changed (TTIN/TTOU, HUP): the hooks' server.num_workers. */
  | { t: 'size'; numWorkers: number }
  | { t: 'do'; action: FrontendAction }
  /** Every front end listens and the master ran when_ready: the workers may start. */
  | { t: 'go' }
  /** HUP: the configuration the master read again, with this front end's share of the workers. */
  | { t: 'reload'; config: Config }
  /** The master asks for this front end's figures (a scrape, /readyz, StatsD's pool); `full` adds the counts. */
  | { t: 'stats'; id: number; full: boolean }
  | HandoffToFrontend;

export type ToMaster =
  /** Its listeners listen (the master only bound them): connections queue from now on. */
  | { t: 'listening' }
  | { t: 'ready'; pids: number[] }
  /** The front end stops on its own (its workers cannot boot): the master stops with `code`. */
  | { t: 'fatal'; message: string; code: number }
  /** The answer to the `stats` question `id`. */
  | { t: 'stats'; id: number; report: FrontendReport }
  | HandoffToMaster;

/** The fds of a front end's log pipes (0-2 are stdio, 3 the IPC channel). */
export const ERROR_LOG_FD = 4;
export const ACCESS_LOG_FD = 5;

export function isToFrontend(m: unknown): m is ToFrontend {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
