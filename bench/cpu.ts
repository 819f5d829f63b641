/**
 * CPU accounting for the replication bench (Linux, /proc): CPU seconds used by given processes
 * and by the whole machine during a phase. On a 2-core box the brokers, the bench and the
 * connector share the cores, so "was the CPU saturated, and by whom" is what makes a throughput
 * figure readable. Everything is undefined where /proc is not available.
 */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc times (USER_HZ): 100 on every mainstream Linux. */
const TICKS = 100;

/** utime + stime of a process, seconds. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: fields are counted after its closing ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return (utime + stime) / TICKS;
  } catch {
    return undefined;
  }
}

/** Busy and total CPU seconds of the whole machine (all cores) since boot. */
export function machineCpuSeconds(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are already in user/nice)
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: busy / TICKS, total: (busy + idle + iowait) / TICKS };
  } catch {
    return undefined;
  }
}

export interface CpuUsage {
  /** CPU seconds per named process during the phase. */
  byProcess: Record<string, number | undefined>;
  /** Busy fraction of all cores, 0..1 (includes other users of the machine). */
  machineBusy: number | undefined;
  wallSeconds: number;
}

/** Starts measuring; `finish()` returns the CPU used since. `pids` are read again at the end. */
export function measureCpu(pids: () => Record<string, number | undefined>): { finish(): CpuUsage } {
  const startPids = pids();
  const start = Object.fromEntries(Object.entries(startPids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
  const selfStart = process.cpuUsage();
  const machineStart = machineCpuSeconds();
  const wallStart = performance.now();
  return {
    finish(): CpuUsage {
      const byProcess: Record<string, number | undefined> = {};
      for (const [k, pid] of Object.entries(pids())) {
        const end = processCpuSeconds(pid);
        const begin = start[k] ?? 0;
        byProcess[k] = end === undefined ? undefined : end - begin;
      }
      const self = process.cpuUsage(selfStart);
      byProcess["bench"] = (self.user + self.system) / 1e6;
      const machineEnd = machineCpuSeconds();
      const machineBusy =
        machineStart && machineEnd && machineEnd.total > machineStart.total
          ? (machineEnd.busy - machineStart.busy) / (machineEnd.total - machineStart.total)
          : undefined;
      return { byProcess, machineBusy, wallSeconds: (performance.now() - wallStart) / 1000 };
    },
  };
}

/** "brokerA 5.1 s, brokerB 4.0 s, ...; machine 98 % busy" */
export function formatCpu(u: CpuUsage): string {
  const parts = Object.entries(u.byProcess)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .map(([k, s]) => `${k} ${s.toFixed(1)} s`);
  const busy = u.machineBusy === undefined ? "" : `; machine ${(u.machineBusy * 100).toFixed(0)} % busy`;
  return `CPU over ${u.wallSeconds.toFixed(1)} s wall: ${parts.join(", ")}${busy}`;
}
