// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions and packages by self time.
import { promises as fs } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** One per process (the primary and each API worker). */
  files: string[];
  /** Time sampled inside the measured windows, and how much of it the process was idle. */
  totalMs: number;
  idlePercent: number;
  functions: SelfTime[];
  packages: SelfTime[];
}

/** The .cpuprofile files in `dir`. */
export async function profilesIn(dir: string): Promise<string[]> {
  const files = await fs.readdir(dir).catch(() => []);
  return files.filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
}

/**
 * Self time per function and per package over the samples taken inside `windows` (monotonic
 * microseconds, the clock V8 stamps samples with), so start-up and idle gaps between loads stay
 * out; idle time is reported apart.
 */
export async function summarizeProfile(
  files: string[],
  repoRoot: string,
  windows: { startUs: number; endUs: number }[],
  top = 10,
): Promise<ProfileSummary> {
  const selfUs = new Map<ProfileNode, number>();
  for (const file of files) {
    const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      at += delta;
      const node = byId.get(id);
      if (!node || !windows.some((w) => at >= w.startUs && at <= w.endUs)) return;
      selfUs.set(node, (selfUs.get(node) ?? 0) + delta);
    });
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  let idleUs = 0;
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const packages = new Map<string, number>();
  for (const [node, us] of selfUs) {
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = location(frame.url, frame.lineNumber, repoRoot);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    const owner = packageOf(frame.url, name);
    packages.set(owner, (packages.get(owner) ?? 0) + us);
  }
  const rank = (entries: { name: string; where: string; us: number }[]): SelfTime[] =>
    entries
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({
        name: e.name,
        where: e.where,
        ms: e.us / 1000,
        percent: (100 * e.us) / totalUs,
      }));
  return {
    files,
    totalMs: totalUs / 1000,
    idlePercent: totalUs > 0 ? (100 * idleUs) / totalUs : 0,
    functions: rank([...functions.values()]),
    packages: rank([...packages].map(([name, us]) => ({ name, where: '', us }))),
  };
}

function location(url: string, line: number, repoRoot: string): string {
  if (!url) return '';
  const file = url.replace(/^file:\/\//, '');
  const shown = file.startsWith(repoRoot) ? path.relative(repoRoot, file) : file;
  return `${shown}:${line + 1}`;
}

/** node_modules/<pkg>, node:internals, the service's own code, or V8's pseudo-frames. */
function packageOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1];
  if (url.startsWith('node:')) return 'node internals';
  return 'service code';
}
