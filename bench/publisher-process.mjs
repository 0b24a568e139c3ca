// A benchmark publisher in its own process, as a real publisher (Tiledesk) runs outside the
// service: its SDK work (serializing, signing, HTTP) and its pacing timers never share the event
// loop of the local stack it measures. Told by the parent over IPC what to publish; reports when
// each paced event's PutEvents was answered, and the counts when done. Each event's `sentAt` is
// taken here, just before its PutEvents.
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

const [endpoint, busName, detailType = 'request.create'] = process.argv.slice(2);
const events = new EventBridgeClient({ endpoint });
const entry = (project, n) => ({
  EventBusName: busName,
  Source: 'tiledesk',
  DetailType: detailType,
  Detail: JSON.stringify({ id_project: project, n, sentAt: Date.now() }),
});

/** One event; tells the parent when PutEvents answered, by event id. */
async function publishOne(project, n) {
  const { Entries = [] } = await events.send(new PutEventsCommand({ Entries: [entry(project, n)] }));
  const eventId = Entries[0]?.EventId;
  if (eventId) process.send?.({ op: 'answered', eventId, at: Date.now() });
}

/**
 * Independent projects' events are not in step: each sender starts at a phase of its own within
 * its period, fixed by its project's name (so runs repeat). With every sender at phase 0, 14
 * projects at 2 events/s published 14 events in the same millisecond twice a second, and one
 * event in ten of a 20/s project landed in that burst: a load no set of independent tenants
 * makes. `BENCH_PACE_PHASE=aligned` brings the old schedule back.
 */
const ALIGNED = process.env.BENCH_PACE_PHASE === 'aligned';

/** A number in [0, 1) fixed by `project`: FNV-1a, then murmur3's finalizer to spread near names. */
function phaseOf(project) {
  let hash = 0x811c9dc5;
  for (const char of project) hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return ((hash ^ (hash >>> 16)) >>> 0) / 2 ** 32;
}

/** Each sender publishes one event every `every` ms for `durationMs`; returns how many each sent. */
async function pace(durationMs, senders) {
  const started = Date.now();
  return Promise.all(
    senders.map(async ({ project, every }) => {
      const pending = [];
      const phase = ALIGNED ? 0 : phaseOf(project) * every;
      let n = 0;
      for (; n * every < durationMs; n++) {
        const wait = started + phase + n * every - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        pending.push(publishOne(project, n));
      }
      await Promise.all(pending);
      return n;
    }),
  );
}

/** `count` events at once, ten per PutEvents, every call sent together. */
async function many(project, count) {
  const calls = [];
  for (let start = 0; start < count; start += 10) {
    calls.push(events.send(new PutEventsCommand({ Entries: Array.from({ length: Math.min(10, count - start) }, (_, n) => entry(project, start + n)) })));
  }
  await Promise.all(calls);
  return count;
}

process.on('message', (message) => {
  const work = message.op === 'pace' ? pace(message.durationMs, message.senders) : many(message.project, message.count);
  work.then(
    (result) => process.send?.({ op: 'done', id: message.id, result }),
    (error) => process.send?.({ op: 'done', id: message.id, error: String(error?.stack ?? error) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ op: 'ready' });
