// What /proc says about the processes under test: where the two cores went during a measured
// window (the service, PostgreSQL, the benchmark itself, everything else on this shared
// machine), and the resident memory of the service's process tree.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ, what /proc counts in: 100 on every Linux ABI in use

const readText = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return ''; // gone, or no /proc
  }
};

/** CPU time in ticks: `own` is utime + stime, `reaped` the children that exited and were reaped. */
function readStat(pid: number): { ppid: number; own: number; reaped: number } | undefined {
  const text = readText(`/proc/${pid}/stat`);
  // the command name may hold spaces: the fields start after its closing parenthesis
  const f = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return text ? { ppid: f[1], own: f[11] + f[12], reaped: f[13] + f[14] } : undefined;
}

/** CPU ms used so far by `root` and its descendants but `skip`, living or reaped. */
function treeCpuMs(root: number, children: Map<number, number[]>, skip?: number): number {
  let ticks = 0;
  for (const pending = [root]; pending.length > 0;) {
    const pid = pending.pop() as number;
    const stat = pid === skip ? undefined : readStat(pid);
    if (!stat) continue;
    ticks += stat.own + (pid === root ? stat.reaped : 0);
    pending.push(...(children.get(pid) ?? []));
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** One process's own user + system CPU time in ms (ticks of 10 ms), 0 once it is gone. */
export function processCpuMs(pid: number): number {
  return ((readStat(pid)?.own ?? 0) * 1000) / TICKS_PER_SECOND;
}

export type CpuSnapshot = ReturnType<CpuMeter['snapshot']>;
export type CpuUsage = ReturnType<typeof CpuMeter.usage>;

export class CpuMeter {
  /** `postgresPid`: the postmaster, when the server runs here (else its CPU counts as other). */
  constructor(
    readonly servicePid: number | undefined,
    readonly postgresPid: number | undefined,
  ) {}

  snapshot() {
    const children = new Map<number, number[]>();
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      const ppid = readStat(Number(entry))?.ppid;
      if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    }
    // user nice system idle iowait irq softirq steal (guest is counted in user already)
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const busy = v[1] + v[2] + v[3] + v[6] + v[7] + (v[8] || 0);
    const tree = (pid: number | undefined) => (pid ? treeCpuMs(pid, children) : 0);
    return {
      at: performance.now(),
      service: tree(this.servicePid),
      postgres: tree(this.postgresPid),
      // the service is our child: its share is counted above, not here
      bench: treeCpuMs(process.pid, children, this.servicePid),
      machineBusy: (busy * 1000) / TICKS_PER_SECOND,
    };
  }

  /** CPU ms used between two snapshots, by party; `otherMs`: the busy time none accounts for. */
  static usage(from: CpuSnapshot, to: CpuSnapshot) {
    const [serviceMs, postgresMs] = [to.service - from.service, to.postgres - from.postgres];
    const benchMs = to.bench - from.bench;
    const otherMs = to.machineBusy - from.machineBusy - serviceMs - postgresMs - benchMs;
    const seconds = (to.at - from.at) / 1000;
    return { seconds, serviceMs, postgresMs, benchMs, otherMs: Math.max(0, otherMs) };
  }
}

/** The postmaster of a backend (pg_backend_pid()), if the server runs on this machine. */
export function postmasterOf(backendPid: number): number | undefined {
  if (readText(`/proc/${backendPid}/comm`).trim() !== 'postgres') return undefined;
  const ppid = readStat(backendPid)?.ppid;
  return ppid && ppid > 1 ? ppid : undefined;
}

/** `pid` and its descendants (the service may fork API workers). */
function processTree(pid: number): number[] {
  const found: number[] = [];
  for (const pending = [pid]; pending.length > 0;) {
    const current = pending.pop() as number;
    found.push(current);
    const children = readText(`/proc/${current}/task/${current}/children`);
    pending.push(...children.split(/\s+/).filter(Boolean).map(Number));
  }
  return found;
}

/** Starts a window: each process's peak (VmHWM) is reset to its current size (Linux 4.0+). */
export function resetRssPeak(pid: number): void {
  for (const p of processTree(pid)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // not ours to reset: the peak then counts from the process's start
    }
  }
}

/** The peaks since the reset, MB: summed over the processes, the largest one; their count. */
export function rssPeak(pid: number) {
  const each = processTree(pid)
    .map((p) => Number(/VmHWM:\s+(\d+)/.exec(readText(`/proc/${p}/status`))?.[1] ?? NaN) / 1024)
    .filter((mb) => !Number.isNaN(mb));
  const totalMb = each.reduce((a, b) => a + b, 0);
  return { totalMb, largestMb: Math.max(0, ...each), processes: each.length };
}
