/** The limit phase: raw keep-alive POSTs to the receiver, the ceiling the pipeline is compared with. */
import { Agent, request } from 'node:http';
import { CONCURRENCY } from './bench-context';

/** The ceiling: the same-sized POSTs straight to the receiver, keep-alive, same concurrency. */
export async function measureLimit(port: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = JSON.stringify({ hook: { _id: 'x'.repeat(24) }, timestamp: Date.now(), payload: { id_project: 'bench', text: 'message 1' } });
  const total = 5000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < total) {
        await new Promise<void>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/raw', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(body);
        });
      }
    }),
  );
  agent.destroy();
  return total / ((performance.now() - started) / 1000);
}

