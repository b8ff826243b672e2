// Where the two cores went during a measured window: the service, PostgreSQL, the benchmark
// itself (load generator, pgbench), and everything else on this shared machine.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /** utime + stime */
  own: number;
  /** cutime + cstime: children that have exited and been reaped */
  reaped: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: the fields start after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      own: Number(fields[11]) + Number(fields[12]),
      reaped: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return undefined;
  }
}

/** Parent pid of every process, read once per snapshot. */
function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  return children;
}

/** CPU ms used so far by a process and all its descendants (but `skip`), living or reaped. */
function treeCpuMs(root: number, children: Map<number, number[]>, skip?: number): number {
  let ticks = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    if (pid === skip) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    ticks += stat.own + (pid === root ? stat.reaped : 0);
    pending.push(...(children.get(pid) ?? []));
  }
  return (ticks * 1000) / clockTicks();
}

/** Busy and total CPU ms of the whole machine, from /proc/stat. */
function machineMs(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest counted in user already)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = v[3] + (v[4] ?? 0);
    return { busy: ((total - idle) * 1000) / clockTicks(), total: (total * 1000) / clockTicks() };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

export interface CpuSnapshot {
  at: number;
  service: number;
  postgres: number;
  bench: number;
  machineBusy: number;
  machineTotal: number;
}

/** CPU used during a window, in ms (per process group) and its length in seconds. */
export interface CpuUsage {
  seconds: number;
  serviceMs: number;
  postgresMs: number;
  benchMs: number;
  /** Busy time of the machine that none of the above accounts for: other people's work. */
  otherMs: number;
}

export class CpuMeter {
  /**
   * `postgresPid` is the postmaster's, when the server runs on this machine (else undefined:
   * PostgreSQL's share then shows up under "other").
   */
  constructor(
    private readonly servicePid: number | undefined,
    private readonly postgresPid: number | undefined,
  ) {}

  snapshot(): CpuSnapshot {
    const children = childrenByParent();
    const machine = machineMs();
    return {
      at: performance.now(),
      service: this.servicePid ? treeCpuMs(this.servicePid, children) : 0,
      postgres: this.postgresPid ? treeCpuMs(this.postgresPid, children) : 0,
      // The service is our child: its share is counted above, not here.
      bench: treeCpuMs(process.pid, children, this.servicePid),
      machineBusy: machine.busy,
      machineTotal: machine.total,
    };
  }

  static usage(from: CpuSnapshot, to: CpuSnapshot): CpuUsage {
    const serviceMs = to.service - from.service;
    const postgresMs = to.postgres - from.postgres;
    const benchMs = to.bench - from.bench;
    const busy = to.machineBusy - from.machineBusy;
    return {
      seconds: (to.at - from.at) / 1000,
      serviceMs,
      postgresMs,
      benchMs,
      otherMs: Math.max(0, busy - serviceMs - postgresMs - benchMs),
    };
  }
}

export function addUsage(a: CpuUsage, b: CpuUsage): CpuUsage {
  return {
    seconds: a.seconds + b.seconds,
    serviceMs: a.serviceMs + b.serviceMs,
    postgresMs: a.postgresMs + b.postgresMs,
    benchMs: a.benchMs + b.benchMs,
    otherMs: a.otherMs + b.otherMs,
  };
}

/** The postmaster of a backend (from pg_backend_pid()), if the server runs on this machine. */
export function postmasterOf(backendPid: number): number | undefined {
  try {
    if (readFileSync(`/proc/${backendPid}/comm`, 'utf8').trim() !== 'postgres') return undefined;
  } catch {
    return undefined;
  }
  const stat = readStat(backendPid);
  return stat && stat.ppid > 1 ? stat.ppid : undefined;
}
