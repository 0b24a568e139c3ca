import type { Attempt } from './api';
import { formatDuration, formatTime } from './format';

interface Bucket {
  start: number;
  delivered: number;
  failed: number;
  latencyTotal: number;
  latencyCount: number;
}

const BUCKETS = 12;
const WIDTH = 600;
const HEIGHT = 180;
const PLOT = { left: 36, right: 44, top: 10, bottom: 28 };

/** Attempts bucketed over their time span: deliveries, failures, mean latency. */
export function bucketAttempts(attempts: Attempt[], count = BUCKETS): { buckets: Bucket[]; from: number; to: number } {
  const times = attempts.map((attempt) => Date.parse(attempt.attemptedAt)).filter((time) => !Number.isNaN(time));
  const from = Math.min(...times);
  const to = Math.max(...times);
  const span = Math.max(1, to - from);
  const buckets: Bucket[] = Array.from({ length: count }, (_, index) => ({
    start: from + (span * index) / count,
    delivered: 0,
    failed: 0,
    latencyTotal: 0,
    latencyCount: 0,
  }));
  for (const attempt of attempts) {
    const time = Date.parse(attempt.attemptedAt);
    if (Number.isNaN(time)) continue;
    const bucket = buckets[Math.min(count - 1, Math.floor(((time - from) / span) * count))]!;
    if (attempt.outcome === 'delivered') bucket.delivered++;
    else if (attempt.outcome === 'failed' || attempt.outcome === 'dead') bucket.failed++;
    bucket.latencyTotal += attempt.durationMs;
    bucket.latencyCount++;
  }
  return { buckets, from, to };
}

/**
 * Deliveries (green) and failures (red) over time as stacked bars, mean latency as a line on
 * the right-hand axis; inline SVG, with the same numbers in words for screen readers.
 */
export function DeliveryChart({ attempts }: { attempts: Attempt[] }) {
  if (attempts.length === 0) return <p class="muted">No attempts yet: the chart appears with the first delivery.</p>;
  const { buckets, from, to } = bucketAttempts(attempts);
  const maxCount = Math.max(1, ...buckets.map((bucket) => bucket.delivered + bucket.failed));
  const latencies = buckets.map((bucket) => (bucket.latencyCount ? bucket.latencyTotal / bucket.latencyCount : undefined));
  const maxLatency = Math.max(1, ...latencies.map((latency) => latency ?? 0));
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const slot = plotWidth / buckets.length;
  const y = (count: number): number => (count / maxCount) * plotHeight;
  const points = latencies
    .map((latency, index) =>
      latency === undefined ? undefined : `${PLOT.left + slot * (index + 0.5)},${PLOT.top + plotHeight - (latency / maxLatency) * plotHeight}`,
    )
    .filter(Boolean)
    .join(' ');
  const delivered = attempts.filter((attempt) => attempt.outcome === 'delivered').length;
  const failed = attempts.filter((attempt) => attempt.outcome === 'failed' || attempt.outcome === 'dead').length;
  const meanLatency = attempts.reduce((sum, attempt) => sum + attempt.durationMs, 0) / attempts.length;
  const summary = `${attempts.length} attempts from ${formatTime(new Date(from).toISOString())} to ${formatTime(new Date(to).toISOString())}: ${delivered} delivered, ${failed} failed, mean latency ${formatDuration(meanLatency)}.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`Delivery chart. ${summary}`} preserveAspectRatio="xMidYMid meet">
        <line x1={PLOT.left} y1={PLOT.top + plotHeight} x2={PLOT.left + plotWidth} y2={PLOT.top + plotHeight} class="axis" />
        <text x={PLOT.left - 6} y={PLOT.top + 10} text-anchor="end" class="tick">
          {maxCount}
        </text>
        <text x={PLOT.left - 6} y={PLOT.top + plotHeight} text-anchor="end" class="tick">
          0
        </text>
        <text x={PLOT.left + plotWidth + 6} y={PLOT.top + 10} class="tick latency-text">
          {formatDuration(maxLatency)}
        </text>
        {buckets.map((bucket, index) => {
          const x = PLOT.left + slot * index + slot * 0.15;
          const width = slot * 0.7;
          const deliveredHeight = y(bucket.delivered);
          const failedHeight = y(bucket.failed);
          const base = PLOT.top + plotHeight;
          return (
            <g key={index}>
              <title>{`${formatTime(new Date(bucket.start).toISOString())}: ${bucket.delivered} delivered, ${bucket.failed} failed`}</title>
              <rect x={x} y={base - deliveredHeight} width={width} height={deliveredHeight} class="bar-ok" />
              <rect x={x} y={base - deliveredHeight - failedHeight} width={width} height={failedHeight} class="bar-bad" />
            </g>
          );
        })}
        {points && <polyline points={points} class="latency" />}
        <text x={PLOT.left} y={HEIGHT - 8} class="tick">
          {formatTime(new Date(from).toISOString())}
        </text>
        <text x={PLOT.left + plotWidth} y={HEIGHT - 8} text-anchor="end" class="tick">
          {formatTime(new Date(to).toISOString())}
        </text>
      </svg>
      <figcaption>
        <span class="key key-ok" aria-hidden="true" /> delivered <span class="key key-bad" aria-hidden="true" /> failed{' '}
        <span class="key key-latency" aria-hidden="true" /> mean latency (right axis). {summary}
      </figcaption>
    </figure>
  );
}
