import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';

/** One paced sender: an event of `project` every `every` ms. */
export interface PacedSender {
  project: string;
  every: number;
}

type FromChild = { op: 'ready' } | { op: 'answered'; eventId: string; at: number } | { op: 'done'; id: number; result?: unknown; error?: string };

/**
 * A publisher in a process of its own (bench/publisher-process.mjs), so that the load a benchmark
 * drives and the latency it measures are not shaped by the publisher's own SDK work inside the
 * local stack's event loop. `answered` holds when each paced event's PutEvents was answered.
 */
export class Publisher {
  readonly answered = new Map<string, number>();
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromChild) => {
      if (message.op === 'answered') this.answered.set(message.eventId, message.at);
      if (message.op !== 'done') return;
      const waiter = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.error) waiter?.reject(new Error(`publisher: ${message.error}`));
      else waiter?.resolve(message.result);
    });
  }

  /** Starts a publisher that sends `detailType` events to `busName` at the local AWS endpoint. */
  static async start(awsEndpoint: string, busName: string, detailType = 'request.create'): Promise<Publisher> {
    const child = fork(path.join(__dirname, 'publisher-process.mjs'), [awsEndpoint, busName, detailType], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`publisher exited (${code}) before it was ready`)));
      child.once('message', () => resolve());
    });
    return new Publisher(child);
  }

  /** Publishes at each sender's pace for `durationMs`; resolves to how many each sent. */
  pace(durationMs: number, senders: PacedSender[]): Promise<number[]> {
    return this.ask({ op: 'pace', durationMs, senders }) as Promise<number[]>;
  }

  /** Publishes `count` events of `project` at once, ten per PutEvents. */
  async many(project: string, count: number): Promise<void> {
    await this.ask({ op: 'many', project, count });
  }

  stop(): void {
    this.child.kill();
  }

  private ask(message: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...message, id });
    });
  }
}
