/**
 * CPU time by process group, from /proc (Linux): where an end-to-end benchmark's CPU goes when
 * the machine is saturated and throughput is CPU time per operation, whoever spends it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/**
 * CPU time of one process in milliseconds: its own (utime + stime) and that of its children it
 * has reaped (cutime + cstime: a `chown`, a `setpriv`, a short-lived helper). Undefined once gone.
 */
function processCpuMs(pid: number): number | undefined {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  try {
    // The command name (field 2) may hold spaces and parentheses: fields are counted after it.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ') ?? [];
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return (ticks * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it (a worker's sandboxes run under bwrap, below the worker). */
export function withDescendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    const at = found[i] as number;
    try {
      // Children belong to the thread that started them: every thread's list counts.
      for (const task of readdirSync(`/proc/${at}/task`)) {
        for (const child of readFileSync(`/proc/${at}/task/${task}/children`, 'utf8').split(' '))
          if (child.trim()) found.push(Number(child));
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Every process whose command line matches `pattern` (e.g. PostgreSQL's backends). */
export function processesMatching(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (pattern.test(readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export type ProcessGroups = Record<string, () => number[]>;

/**
 * Starts counting the CPU time of each group (its processes are listed again at the end, so one
 * started meanwhile counts whole; one that ended meanwhile is lost, and one that cannot be read at
 * either end is left out). `stop` gives milliseconds; a group with no process is reported, since
 * a zero there would read as free.
 */
export function countCpu(groups: ProcessGroups): { stop(): Record<string, number> } {
  const before = new Map<number, number>();
  for (const list of Object.values(groups)) {
    for (const pid of list()) {
      const spent = processCpuMs(pid);
      if (spent !== undefined) before.set(pid, spent);
    }
  }
  return {
    stop() {
      const spent: Record<string, number> = {};
      for (const [name, list] of Object.entries(groups)) {
        const pids = list();
        if (pids.length === 0) console.warn(`cpu: no process found for "${name}"`);
        spent[name] = pids.reduce((sum, pid) => {
          const now = processCpuMs(pid);
          return now === undefined ? sum : sum + now - (before.get(pid) ?? 0);
        }, 0);
      }
      return spent;
    },
  };
}
