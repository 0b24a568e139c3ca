/** The latency phase: events at a fixed offered rate, publish to receipt. */
import { Bench, LATENCY_RATE, LATENCY_SECONDS, SUBSCRIPTIONS_PER_EVENT, percentile, publishBatch, waitFor } from './bench-context';

/** Latency at a fixed offered rate. */
export async function measureLatency(bench: Bench, figures: Record<string, number>): Promise<void> {
  const { receipts } = bench;
  receipts.length = 0;
  const latencyEvents = LATENCY_RATE * LATENCY_SECONDS;
  const tick = 100;
  const perTick = (LATENCY_RATE * tick) / 1000;
  for (let sent = 0; sent < latencyEvents; sent += perTick) {
    const next = Date.now() + tick;
    await publishBatch(bench.events, perTick);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
  }
  await waitFor(() => receipts.length >= latencyEvents * SUBSCRIPTIONS_PER_EVENT, 120_000);
  const latencies = receipts.map((r) => r.at - r.sentAt).sort((a, b) => a - b);
  figures.latencyP50Ms = percentile(latencies, 0.5);
  figures.latencyP95Ms = percentile(latencies, 0.95);
  figures.latencyP99Ms = percentile(latencies, 0.99);
}

