/**
 * CPU time by process group, from /proc (Linux): where an end-to-end benchmark's CPU goes when
 * the machine is saturated and throughput is CPU time per operation, whoever spends it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** utime + stime of one process in milliseconds; 0 once it is gone. */
function processCpuMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  try {
    // The command name (field 2) may hold spaces and parentheses: fields are counted after it.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** `pid` and every process below it (a worker's sandboxes run under bwrap, below the worker). */
export function withDescendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    const at = found[i] as number;
    try {
      for (const child of readFileSync(`/proc/${at}/task/${at}/children`, 'utf8').split(' '))
        if (child.trim()) found.push(Number(child));
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
 * started meanwhile counts whole; one that ended meanwhile is lost). `stop` gives milliseconds.
 */
export function countCpu(groups: ProcessGroups): { stop(): Record<string, number> } {
  const before = new Map<number, number>();
  for (const list of Object.values(groups)) for (const pid of list()) before.set(pid, processCpuMs(pid));
  return {
    stop() {
      const spent: Record<string, number> = {};
      for (const [name, list] of Object.entries(groups)) {
        spent[name] = list().reduce((sum, pid) => sum + processCpuMs(pid) - (before.get(pid) ?? 0), 0);
      }
      return spent;
    },
  };
}
