// A process seen from outside (Linux /proc): memory, liveness, open files, and the worker pids the
// error log announced.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** Resident set size of a process in kB (Linux /proc), or null where unavailable. */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples rssKb(pid) every `everyMs` until stop() is called; stop() returns the peak kB. */
export function sampleRss(pid, everyMs = 50) {
  let peak = rssKb(pid) ?? 0;
  const timer = setInterval(() => {
    const v = rssKb(pid);
    if (v !== null && v > peak) peak = v;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const v = rssKb(pid);
      if (v !== null && v > peak) peak = v;
      return peak;
    },
  };
}

/** Worker pids announced so far in the error log ("Booting worker with pid: N"). */
export function bootedPids(server) {
  const pids = [];
  for (const line of server.stderrLines) {
    const m = /Booting worker with pid:? (\d+)/.exec(line);
    if (m) pids.push(Number(m[1]));
  }
  return pids;
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Open descriptors of process `pid` on files inside `dir` (Linux /proc), or null where /proc is
 * unavailable. A spool's temp file is unlinked once open, so it shows only here, as "(deleted)".
 */
export function fdsInDir(pid, dir) {
  let names;
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const found = [];
  for (const name of names) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${name}`);
      if (target.startsWith(`${dir}${path.sep}`)) found.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return found;
}

/** The Uid/Gid/Groups lines of /proc/PID/status: { uid, gid, groups } (real ids). */
export function credentials(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid')[0], gid: field('Gid')[0], groups: field('Groups') };
}

/** The pids of PID's children (/proc/PID/task/PID/children, Linux). */
export function childPids(pid) {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}
