/**
 * Loaded into a benchmarked server with `NODE_OPTIONS=--import=<this file>`: samples the server's
 * own event-loop delay (perf_hooks, 1 ms resolution). On SIGUSR2 it prints what it saw since the
 * last signal as one line on stderr, `event-loop-delay {"p50":…,"p99":…,"max":…}` (ms), and starts over.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
process.on('SIGUSR2', () => {
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const figures = {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    samples: histogram.count,
  };
  process.stderr.write(`event-loop-delay ${JSON.stringify(figures)}\n`);
  histogram.reset();
});
