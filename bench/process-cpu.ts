/** CPU time of processes and threads from Linux's /proc, for the benchmark's CPU figures. */
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** The child process of this one running `script` (Linux /proc), to read its CPU time. */
export function findChildPid(script: string): number | undefined {
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(script)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

/** utime + stime of a whole process, all its threads; NaN where /proc cannot tell. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicksPerSecond();
  } catch {
    return NaN;
  }
}

let ticksPerSecond: number | undefined;
/** The unit of /proc CPU times. */
export function clockTicksPerSecond(): number {
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return ticksPerSecond;
}

/** This process's CPU since `before`, as a percentage of one core. */
export function cpuPercentSince(before: NodeJS.CpuUsage, startedAt: number): number {
  const { user, system } = process.cpuUsage(before);
  return Math.round((user + system) / 10 / Math.max(1, Date.now() - startedAt));
}
