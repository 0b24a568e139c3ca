/**
 * `npm run bench:hostile`: a healthy project's publish → receipt latency beside 14 hostile
 * receivers (bench/hostile-receiver.mjs: endless bodies, slowloris, body drips, redirect loops
 * and redirects to the metadata address, a 1 MB header, 10,000 headers, hangs, resets, silent
 * closes, non-HTTP answers, endless 1xx, a chunk size that never ends, large 500s), each the
 * subscriber of a project of its own publishing 2 events/s, against its baseline (the healthy
 * project alone) in the same run. Target (issue 20): healthy p95 ≤ 3 × baseline p95. Each case
 * runs on a fresh local stack in a process of its own; traffic stays on loopback.
 *
 * One run's ratio swings several-fold on a 2-core machine (2.97–13.5 on one commit, 2026-12-04),
 * so the bench runs BENCH_HOSTILE_RUNS alternating pairs (default 5: baseline, hostile, baseline, …)
 * and judges the target on the median pair's ratio, printing every pair. Five since 2026-12-05: the
 * pairs fell in two groups, 1.9–2.2 and 5.5–6.2, by how fast the machine ran that case, and three
 * let two slow pairs decide.
 *
 * BENCH_HOSTILE_SECONDS sets each case's length (default 20); BENCH_HOSTILE_PATHS (comma-separated,
 * e.g. `/hang,/slowloris`) keeps only those receivers, to find which one costs the most. Figures
 * taken on a shared or busy machine are inflated: re-measure on a quiet one.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { startLocalStack } from '../local/local-stack';
import { createSubscription, ownerToken, runCaseInProcess } from './bench-context';
import { cpuPercentSince } from './process-cpu';
import { Publisher } from './publisher';
import { StageTrace, describeStages } from './stage-trace';

const SECONDS = Number(process.env.BENCH_HOSTILE_SECONDS ?? 20);
const RUNS = Number(process.env.BENCH_HOSTILE_RUNS ?? 5);
const HEALTHY_RATE = 20;
const HOSTILE_RATE = 2;
const DRAIN_MS = 30_000;
/** The target: the healthy p95 beside the hostile receivers, as a multiple of its baseline. */
const TARGET_RATIO = 3;
/** The start of a case reported apart as well: the fast lane learning which receivers hang. */
const ONSET_MS = 2000;

interface Receipt {
  id: string;
  at: number;
  sentAt: number;
}

/** One case's figures. */
export interface HostileCase {
  name: string;
  hostileReceivers: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /**
   * p95 of the events published after the first {@link ONSET_MS}: without the onset, while the
   * hostile receivers' first deliveries hold the fast lane for its deadline (docs/design.md §3.9).
   */
  p95AfterOnsetMs: number;
  sent: number;
  lost: number;
  /** CPU of the local stack's process while publishing, % of one core. */
  stackCpuPercent: number;
  /** Where the healthy project's slowest 5 % spent their time, stage by stage (`stage-trace.ts`). */
  stages: string;
}

async function runCase(withHostile: boolean): Promise<HostileCase> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const jwtSecret = 'bench-hostile-secret';
  const trace = new StageTrace();
  const stack = await startLocalStack({ port: 0, awsPort: 0, jwtSecret, onInvocation: trace.onInvocation });
  const { child, healthyPort, hostilePort, paths, receipts } = await startReceiver();
  // The healthy project and the hostile ones publish from processes of their own, as separate clients.
  const [healthy, neighbours] = await Promise.all([Publisher.start(stack.awsEndpoint, stack.busName), Publisher.start(stack.awsEndpoint, stack.busName)]);
  const subscribe = async (project: string, port: number, target: string): Promise<void> => {
    await createSubscription(stack.apiUrl, ownerToken(project, jwtSecret), `http://127.0.0.1:${port}${target}`, project, 'request.create');
  };
  try {
    await subscribe('healthy', healthyPort, '/healthy');
    const only = process.env.BENCH_HOSTILE_PATHS?.split(',').map((entry) => entry.trim()).filter(Boolean);
    const hostile = withHostile ? paths.filter((hostilePath) => !only || only.includes(hostilePath)) : [];
    for (const [index, hostilePath] of hostile.entries()) await subscribe(`hostile-${index}`, hostilePort, hostilePath);
    const cpuBefore = process.cpuUsage();
    const startedAt = Date.now();
    const [[sent = 0]] = await Promise.all([
      healthy.pace(SECONDS * 1000, [{ project: 'healthy', every: 1000 / HEALTHY_RATE }]),
      neighbours.pace(
        SECONDS * 1000,
        hostile.map((_, index) => ({ project: `hostile-${index}`, every: 1000 / HOSTILE_RATE })),
      ),
    ]);
    const stackCpuPercent = cpuPercentSince(cpuBefore, startedAt);
    const result = await summarize(withHostile ? `beside ${hostile.length} hostile receivers` : 'baseline (healthy project alone)', hostile.length, sent, receipts);
    return { ...result, stackCpuPercent, stages: describeStages(trace.rows(receipts)) };
  } finally {
    healthy.stop();
    neighbours.stop();
    child.kill();
    await stack.stop();
  }
}

async function summarize(name: string, hostileReceivers: number, sent: number, receipts: Receipt[]): Promise<Omit<HostileCase, 'stackCpuPercent' | 'stages'>> {
  const deadline = Date.now() + DRAIN_MS;
  const unique = () => new Map(receipts.map((receipt) => [receipt.id, receipt]));
  while (unique().size < sent && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  const received = [...unique().values()];
  const firstSent = Math.min(...received.map((receipt) => receipt.sentAt));
  const latenciesOf = (receipts: Receipt[]) => receipts.map((receipt) => receipt.at - receipt.sentAt).sort((a, b) => a - b);
  const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const latencies = latenciesOf(received);
  const afterOnset = latenciesOf(received.filter((receipt) => receipt.sentAt - firstSent >= ONSET_MS));
  return {
    name,
    hostileReceivers,
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    p99Ms: percentile(latencies, 0.99),
    p95AfterOnsetMs: percentile(afterOnset, 0.95),
    sent,
    lost: sent - latencies.length,
  };
}

interface ReceiverPorts {
  healthyPort: number;
  hostilePort: number;
  paths: string[];
}

async function startReceiver(): Promise<ReceiverPorts & { child: ChildProcess; receipts: Receipt[] }> {
  const child = fork(path.join(__dirname, 'hostile-receiver.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const receipts: Receipt[] = [];
  const ports = await new Promise<ReceiverPorts>((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (message: Partial<ReceiverPorts> | Receipt[]) => {
      if (Array.isArray(message)) receipts.push(...message);
      else if (message.healthyPort && message.hostilePort && message.paths) resolve(message as ReceiverPorts);
    });
  });
  return { child, receipts, ...ports };
}

/** A baseline and the hostile case run after it. */
interface Pair {
  baseline: HostileCase;
  hostile: HostileCase;
  ratio: number;
  ratioAfterOnset: number;
}

/** RUNS alternating pairs, each case in a fresh process. */
function measure(): Pair[] {
  return Array.from({ length: RUNS }, () => {
    const baseline = runCaseInProcess<HostileCase>(__filename, 0, 'hostile');
    const hostile = runCaseInProcess<HostileCase>(__filename, 1, 'hostile');
    return { baseline, hostile, ratio: hostile.p95Ms / baseline.p95Ms, ratioAfterOnset: hostile.p95AfterOnsetMs / baseline.p95AfterOnsetMs };
  });
}

/** The pair whose ratio is the median (the lower middle one for an even count). */
function medianPair<T extends { ratio: number }>(pairs: T[]): T | undefined {
  return [...pairs].sort((a, b) => a.ratio - b.ratio)[Math.floor((pairs.length - 1) / 2)];
}

function print(pairs: Pair[]): boolean {
  const median = medianPair(pairs);
  if (!median) return false;
  const pass = pairs.every((pair) => pair.hostile.lost === 0) && median.ratio <= TARGET_RATIO;
  console.log(`\nhealthy project (${HEALTHY_RATE} events/s, ${SECONDS} s) publish → receipt, ${pairs.length} alternating pair(s)`);
  console.log(
    'case'.padEnd(40),
    'p50 ms'.padStart(8),
    'p95 ms'.padStart(8),
    'p99 ms'.padStart(8),
    `p95 after ${ONSET_MS / 1000} s`.padStart(16),
    'sent'.padStart(6),
    'lost'.padStart(6),
    'CPU %'.padStart(6),
  );
  for (const [index, pair] of pairs.entries()) {
    for (const result of [pair.baseline, pair.hostile]) {
      console.log(
        `${index + 1}. ${result.name}`.padEnd(40),
        ...[result.p50Ms, result.p95Ms, result.p99Ms].map((value) => String(value).padStart(8)),
        String(result.p95AfterOnsetMs).padStart(16),
        ...[result.sent, result.lost, result.stackCpuPercent].map((value) => String(value).padStart(6)),
      );
    }
  }
  console.log('CPU %: the local stack’s one process while publishing, % of a core (near 100: its shared event loop is the bottleneck)');
  console.log('where the time went (bench/stage-trace.ts):');
  for (const [index, pair] of pairs.entries()) {
    for (const result of [pair.baseline, pair.hostile]) console.log(`${index + 1}. ${result.name}: ${result.stages}`);
  }
  console.log(`p95 ratio of each pair: ${pairs.map((pair) => pair.ratio.toFixed(2)).join(', ')}`);
  console.log(`p95 ratio ${median.ratio.toFixed(2)}, the median pair (target ≤ ${TARGET_RATIO}, nothing lost): ${pass ? 'PASS' : 'MISS'}`);
  // Told apart, not instead: the target stays on the whole run, onset included.
  console.log(
    `without the first ${ONSET_MS / 1000} s of either case: p95 ratio ${median.ratioAfterOnset.toFixed(2)} (median pair); ` +
      `each pair: ${pairs.map((pair) => pair.ratioAfterOnset.toFixed(2)).join(', ')}`,
  );
  console.log(JSON.stringify({ pairs, p95Ratio: Number(median.ratio.toFixed(2)), pass }));
  return pass;
}

if (require.main === module) {
  const caseIndex = process.argv.indexOf('--case');
  const work =
    caseIndex > 0
      ? runCase(process.argv[caseIndex + 1] === '1').then((result) => console.log(JSON.stringify(result)))
      : Promise.resolve(measure()).then((results) => {
          if (!print(results)) process.exitCode = 1;
        });
  work
    .then(() => process.exit(process.exitCode ?? 0))
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
