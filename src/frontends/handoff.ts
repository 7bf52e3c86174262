/**
 * Balance between front ends that accept on one shared listening socket. libuv accepts every
 * pending connection each time a process wakes, so a burst of connections opened at one instant
 * goes mostly to the front end that was awake, and its workers queue while the others' idle.
 *
 * Each front end counts its open connections and reports the count to the master (at most
 * every REPORT_MS, when it changed); the master tells each front end the others' total. A front
 * end that would hold more than its fair share, ceil(all / N) + 1, sends the new connection to
 * the master unread (its listeners pause on connect), and the master passes it to the front end
 * with the fewest. A steady load rarely trips the share: hand-offs happen on imbalance only, and
 * never while no other front end is ready to take one (at start, or while one is replaced).
 */
import type { Server, Socket } from 'node:net';
import { stopReading } from '../http/node-internals';
import type { Logger } from '../log/logger';

/** How often, at most, a count travels between a front end and the master. */
const REPORT_MS = 100;

/** What the hand-off says over the IPC channel (part of messages.ts's unions). */
export type HandoffToMaster =
  /** This front end's open connections. */
  | { t: 'load'; open: number }
  /** The socket attached, unread: for another front end's listener `listener` (bind order). */
  | { t: 'adopt'; listener: number };
export type HandoffToFrontend =
  /** The open connections of every other front end, and how many of them can take one now. */
  | { t: 'others'; open: number; live: number }
  /** A socket from another front end (or its own, back, `keep`: no other could take it). */
  | { t: 'adopt'; listener: number; keep: boolean };

/** A front end's side: gates its listeners, counts, hands off and adopts. */
export class FrontendBalance {
  private open = 0;
  private others = 0;
  /** Whether another front end can take a connection (the master says; none until it does). */
  private peers = false;
  private reported = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Per bind index: serves a socket as the listener's own 'connection' listeners would. */
  private readonly admitters: Array<(socket: Socket) => void> = [];
  private log: Logger | null = null;

  constructor(
    private readonly count: number,
    private readonly send: (message: HandoffToMaster, socket?: Socket) => boolean,
  ) {}

  /**
   * Listener `index` (the PROXY intake where there is one, else the server) pauses its new
   * connections, so one handed off has not been read from, and serves only those it keeps. Its
   * 'connection' listeners (node:http's, node:tls's, the lean engine's, the intake's) run for
   * those, and for the ones adopted from other front ends.
   */
  gate(listener: Server, index: number, log: Logger): void {
    this.log = log;
    Reflect.set(listener, 'pauseOnConnect', true);
    const consumers = listener.listeners('connection') as Array<(socket: Socket) => void>;
    listener.removeAllListeners('connection');
    const admit = (socket: Socket): void => {
      this.track(socket);
      for (const consume of consumers) consume.call(listener, socket);
      // A paused socket reads again; node:tls and node:http take over the handle first.
      socket.resume();
    };
    this.admitters[index] = admit;
    listener.on('connection', (socket: Socket) => (this.fair() ? admit(socket) : this.handOff(socket, index)));
  }

  /** A socket from the master: served here whatever the count (it never travels twice). */
  adopt(message: Extract<HandoffToFrontend, { t: 'adopt' }>, socket: Socket | undefined): void {
    // The connection may have closed on its way here.
    if (!socket) return;
    const admit = this.admitters[message.listener];
    if (!admit) {
      socket.destroy();
      return;
    }
    // As received it reads at once, and nothing reaches it before the loop polls again: by then
    // its listener's consumers are on it.
    if (!message.keep) this.log?.debug(`adopted a connection from another front end: ${this.open} open here, ${this.others} in the others`);
    admit(socket);
  }

  /** The master's figures for the others (replace this front end's own guess). */
  othersOpen(message: Extract<HandoffToFrontend, { t: 'others' }>): void {
    this.others = message.open;
    this.peers = message.live > 0;
  }

  /** Would one more connection keep this front end within its fair share (or is it alone)? */
  private fair(): boolean {
    if (!this.peers) return true;
    const mine = this.open + 1;
    return mine <= Math.ceil((mine + this.others) / this.count) + 1;
  }

  private handOff(socket: Socket, index: number): void {
    const admit = this.admitters[index] as (socket: Socket) => void;
    if (!this.send({ t: 'adopt', listener: index }, socket)) {
      admit(socket);
      return;
    }
    // Until the master says, count it as the others'; the next connection sees it.
    this.others++;
    this.log?.debug(`handed a connection to another front end: ${this.open} open here, ${this.others} in the others`);
  }

  private track(socket: Socket): void {
    this.open++;
    this.changed();
    socket.once('close', () => {
      this.open--;
      this.changed();
    });
  }

  private changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.open === this.reported) return;
      this.reported = this.open;
      this.send({ t: 'load', open: this.open });
    }, REPORT_MS);
    this.timer.unref();
  }
}

interface Peer {
  /** It serves: its workers are up and its channel is open. */
  readonly live: boolean;
  /** `sent`: the message (and socket) left for the channel; not called if the channel closed first. */
  send(message: HandoffToFrontend, socket?: Socket, sent?: () => void): void;
}

/** The master's side: every front end's last count, and where a handed-off socket goes. */
export class MasterBalance {
  private readonly loads: number[];
  /** What each front end was told last ("open/live"). */
  private readonly told: string[];
  private timer: NodeJS.Timeout | null = null;
  /** Per front end, the sockets routed to it and still waiting in line for its channel. */
  private readonly inLine: Array<Map<Socket, number>>;

  /** `peer(i)`: front end i (0-based) as it is now, or null while it is being replaced. */
  constructor(
    count: number,
    private readonly peer: (i: number) => Peer | null,
  ) {
    this.loads = Array.from({ length: count }, () => 0);
    this.told = Array.from({ length: count }, () => '');
    this.inLine = Array.from({ length: count }, () => new Map());
  }

  report(i: number, open: number): void {
    this.loads[i] = open;
    this.schedule();
  }

  /** Front end i is gone: its connections went with it. */
  gone(i: number): void {
    // Its replacement starts knowing nothing of the others: it is told again.
    this.told[i] = '';
    this.report(i, 0);
    // A socket still in line for its channel would stay open here, unanswered: it goes elsewhere.
    // (One that left already is a message without its handle now, which a front end ignores.)
    const waiting = [...(this.inLine[i] as Map<Socket, number>)];
    this.inLine[i] = new Map();
    for (const [socket, listener] of waiting) this.route(i, listener, socket);
  }

  /** A socket front end `from` handed off: to the live front end with the fewest, or back. */
  route(from: number, listener: number, socket: Socket | undefined): void {
    if (!socket) return;
    // Received, it reads at once: stopped before the loop polls, it has read nothing. (It may
    // wait here for the receiver's ack of an earlier socket, and what it read then would be lost.)
    stopReading(socket);
    let to = -1;
    this.loads.forEach((load, i) => {
      if (i !== from && this.peer(i)?.live && (to < 0 || load < (this.loads[to] as number))) to = i;
    });
    const target = to < 0 ? this.peer(from) : this.peer(to);
    if (!target) {
      socket.destroy();
      return;
    }
    const at = to < 0 ? from : to;
    if (to >= 0) {
      this.loads[to] = (this.loads[to] as number) + 1;
      this.schedule();
    }
    const line = this.inLine[at] as Map<Socket, number>;
    line.set(socket, listener);
    target.send({ t: 'adopt', listener, keep: to < 0 }, socket, () => line.delete(socket));
  }

  /** A front end became ready: the others may hand it connections now. */
  ready(): void {
    this.schedule();
  }

  /** Each front end hears the others' total when it changed, at most every REPORT_MS. */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const total = this.loads.reduce((a, b) => a + b, 0);
      const live = this.loads.map((_, i) => this.peer(i)?.live === true);
      this.loads.forEach((load, i) => {
        const message = { t: 'others', open: total - load, live: live.filter((l, j) => l && j !== i).length } as const;
        const peer = this.peer(i);
        const key = `${message.open}/${message.live}`;
        if (key === this.told[i] || !peer) return;
        this.told[i] = key;
        peer.send(message);
      });
    }, REPORT_MS);
    this.timer.unref();
  }
}
