// SQS behaviours AWS documents and fauxqs 2.4 lacks, installed into fauxqs's own classes before
// its server starts (it has no plug-in API for them). Everything happens where fauxqs keeps its
// messages, so a receive count only ever rises for a message a consumer really received, as on
// AWS. Each rule cites its AWS page in docs/design.md §3.2 ("SQS as the local stack models it").
//
// - Fair queues: on a standard queue, a tenant (the MessageGroupId; a message without one is a
//   tenant of its own) that holds > 10 % of the queue's in-flight messages and at least 30 of
//   them, or > 10 % of the consumers' recent processing time, is noisy: ReceiveMessage returns
//   the quiet tenants' messages first, then the noisy tenants', fewest in flight first.
// - MessageGroupId is kept on standard queues (fauxqs drops it) and returned on receive.
// - Messages older than the queue's MessageRetentionPeriod are deleted.
// - DelaySeconds must be 0–900 per message; a MessageGroupId 1–128 letters, digits and ASCII
//   punctuation.
// - A message moved to a DLQ by a redrive policy carries DeadLetterQueueSourceArn.
// - A long poll returns when a message is there for it, or at its wait time: one waiting receive
//   is woken per arrival, not all of them (fauxqs wakes every waiter, and all but one answer
//   empty at once; on AWS an empty answer comes at the end of the wait).
// - At least once, when asked (`duplicateRate`, 0 unless set): a received message leaves a copy
//   behind, ready at once, as when a server holding a copy was unavailable at the receive; the
//   copy is received again by a later receive, even after the original was deleted.
// - A short poll (WaitTimeSeconds 0) asks some of the servers a standard queue's messages are
//   kept on, at random, so it may miss messages a later receive returns, or answer empty while
//   messages wait; a long poll asks every server.

/** Share of the queue's in-flight messages above which a tenant can be noisy. */
export const NOISY_CONCURRENCY_SHARE = 0.1;
/** In-flight messages a tenant needs before its concurrency share can make it noisy. */
export const NOISY_MIN_IN_FLIGHT = 30;
/** Share of the consumers' recent processing time above which a tenant is noisy. */
export const NOISY_PROCESSING_SHARE = 0.1;
/** What "recent" processing time means here; AWS does not give its window. */
export const PROCESSING_WINDOW_MS = 60_000;
/**
 * Servers a standard queue's messages are spread over, and how many of them a short poll asks.
 * AWS says only that a short poll asks a subset of its servers, chosen by a weighted random
 * distribution; these numbers are its guide's picture of one (Amazon SQS short and long
 * polling): messages on five servers, a short poll that returns those of four.
 */
export const SHORT_POLL_SERVERS = 5;
export const SHORT_POLL_SERVERS_ASKED = 4;
/** SQS's bounds for a message's DelaySeconds. */
const MAX_DELAY_SECONDS = 900;
/** How often a queue is swept for messages past their retention period. */
const RETENTION_SWEEP_MS = 1_000;

/** fauxqs versions whose internals these rules were written against. */
const SUPPORTED_FAUXQS = /^2\.4\./;

/**
 * Installs the rules into fauxqs's classes. Call before `startFauxqs`: the router registers its
 * handlers while the server is built.
 */
export async function installSqsRules({ duplicateRate = 0 } = {}) {
  const base = import.meta.resolve('fauxqs');
  const load = (relative) => import(new globalThis.URL(relative, base).href);
  const { readFile } = await import('node:fs/promises');
  const manifest = JSON.parse(await readFile(new globalThis.URL('../package.json', base), 'utf8'));
  if (!SUPPORTED_FAUXQS.test(manifest.version)) {
    throw new Error(`local/fauxqs-sqs-rules.mjs was written for fauxqs 2.4.x and found ${manifest.version}: check its patches`);
  }
  const [{ SqsQueue, SqsStore }, { SqsRouter }, { SqsError }, { PersistenceManager }] = await Promise.all([
    load('./sqs/sqsStore.js'),
    load('./sqs/sqsRouter.js'),
    load('./common/errors.js'),
    load('./persistence.js'),
  ]);
  keepGroupIdsOnStandardQueues(SqsStore);
  keepDeadLetterSourcesAcrossRestarts(PersistenceManager);
  serveFairly(SqsQueue);
  wakeOneReceiveAtATime(SqsQueue);
  expireMessages(SqsQueue);
  if (duplicateRate > 0) leaveCopiesBehind(SqsQueue, duplicateRate);
  askSomeServersOnShortPolls(SqsQueue);
  wrapActions(SqsRouter, SqsError);
}

/** A message's tenant as fair queues see it. */
function tenantOf(message) {
  return message.messageGroupId ?? `message:${message.messageId}`;
}

/**
 * Group ids of the standard-queue messages being sent, in request order. fauxqs's send actions
 * run synchronously, so the list belongs to the one request in progress.
 */
let sending = [];

function keepGroupIdsOnStandardQueues(SqsStore) {
  const createMessage = SqsStore.createMessage;
  SqsStore.createMessage = function (body, attributes, delaySeconds, groupId, deduplicationId) {
    if (groupId === undefined && sending.length > 0) {
      // Entries fauxqs refused are skipped, never reordered: the first with this body is this one.
      const index = sending.findIndex((entry) => entry.body === body);
      if (index >= 0) {
        groupId = sending[index].groupId;
        sending = sending.slice(index + 1);
      }
    }
    return createMessage.call(this, body, attributes, delaySeconds, groupId, deduplicationId);
  };
}

function serveFairly(SqsQueue) {
  const dequeue = SqsQueue.prototype.dequeue;
  const deleteMessage = SqsQueue.prototype.deleteMessage;
  SqsQueue.prototype.dequeue = function (maxCount, visibilityTimeout, dlqResolver) {
    const now = Date.now();
    if (!this.isFifo()) {
      this.processTimers();
      orderFairly(this, now);
    }
    const received = dequeue.call(this, maxCount, visibilityTimeout, dlqResolver && markDeadLetterSource(this, dlqResolver));
    for (const message of received) {
      const entry = this.inflightMessages.get(message.ReceiptHandle);
      if (entry) entry.receivedAt = now;
    }
    return received;
  };
  // A consumer's processing time is the span from receive to delete.
  SqsQueue.prototype.deleteMessage = function (receiptHandle) {
    const entry = this.inflightMessages.get(receiptHandle);
    if (entry?.receivedAt !== undefined && !this.isFifo()) {
      const now = Date.now();
      recordProcessingTime(this, tenantOf(entry.message), now, now - entry.receivedAt);
    }
    return deleteMessage.call(this, receiptHandle);
  };
}

/** Wraps a DLQ resolver so each message the redrive policy moves records the queue it left. */
function markDeadLetterSource(queue, dlqResolver) {
  return (arn) => {
    const dlq = dlqResolver(arn);
    if (!dlq) return dlq;
    return {
      enqueue(message) {
        message.deadLetterQueueSourceArn = queue.arn;
        // Retention counts from the first enqueue on standard queues, from the move on FIFO ones.
        if (queue.isFifo()) message.enqueuedAt = Date.now();
        dlq.enqueue(message);
      },
    };
  };
}

/**
 * fauxqs's SQLite store (DATA_DIR) has no column for a message's DeadLetterQueueSourceArn, so a
 * restart forgot which queue a redrive policy had moved each DLQ message from, and a move task
 * without a destination then failed for it. A table of ours in the same database keeps it: written
 * when fauxqs writes the message, removed when it removes it, read back when it loads the queue.
 */
function keepDeadLetterSourcesAcrossRestarts(PersistenceManager) {
  const sourcesOf = (manager) => {
    if (!manager.deadLetterSources) {
      manager.db.exec('CREATE TABLE IF NOT EXISTS dead_letter_sources (message_id TEXT PRIMARY KEY, queue_name TEXT NOT NULL, source_arn TEXT NOT NULL)');
      manager.deadLetterSources = {
        insert: manager.db.prepare('INSERT OR REPLACE INTO dead_letter_sources (message_id, queue_name, source_arn) VALUES (?, ?, ?)'),
        remove: manager.db.prepare('DELETE FROM dead_letter_sources WHERE message_id = ?'),
        removeQueue: manager.db.prepare('DELETE FROM dead_letter_sources WHERE queue_name = ?'),
        removeAll: manager.db.prepare('DELETE FROM dead_letter_sources'),
        ofQueue: manager.db.prepare('SELECT message_id, source_arn FROM dead_letter_sources WHERE queue_name = ?'),
      };
    }
    return manager.deadLetterSources;
  };
  const { insertMessage, deleteMessage, deleteQueueMessages, deleteAllMessages, loadSqsMessages } = PersistenceManager.prototype;
  PersistenceManager.prototype.insertMessage = function (queueName, message) {
    insertMessage.call(this, queueName, message);
    if (message.deadLetterQueueSourceArn) sourcesOf(this).insert.run(message.messageId, queueName, message.deadLetterQueueSourceArn);
  };
  PersistenceManager.prototype.deleteMessage = function (messageId) {
    deleteMessage.call(this, messageId);
    sourcesOf(this).remove.run(messageId);
  };
  PersistenceManager.prototype.deleteQueueMessages = function (queueName) {
    deleteQueueMessages.call(this, queueName);
    sourcesOf(this).removeQueue.run(queueName);
  };
  PersistenceManager.prototype.deleteAllMessages = function () {
    deleteAllMessages.call(this);
    sourcesOf(this).removeAll.run();
  };
  PersistenceManager.prototype.loadSqsMessages = function (queue) {
    loadSqsMessages.call(this, queue);
    const sources = new Map(sourcesOf(this).ofQueue.all(queue.name).map((row) => [row.message_id, row.source_arn]));
    if (sources.size === 0) return;
    const loaded = [
      ...queue.messages,
      ...queue.delayedMessages,
      // A FIFO queue keeps its ready and delayed messages by group instead.
      ...[...queue.fifoMessages.values(), ...queue.fifoDelayed.values()].flat(),
      ...[...queue.inflightMessages.values()].map((entry) => entry.message),
    ];
    for (const message of loaded) {
      const source = sources.get(message.messageId);
      if (source) message.deadLetterQueueSourceArn = source;
    }
  };
}

/**
 * Long polls on a standard queue, as SQS answers them: a waiting receive returns when there is a
 * message for it or when its wait time is over. fauxqs wakes every waiting receive when one
 * message arrives; all but the first then answer empty at once, so N idle consumers made N - 1
 * empty receives per message (70 a second on a bench at 20 events/s). Here one waiter is woken at
 * a time; each receive wakes the next while ready messages remain, and a woken receive that
 * finds the messages taken waits on for the rest of its time. FIFO queues keep fauxqs's way
 * (their messages are not in `messages`).
 */
function wakeOneReceiveAtATime(SqsQueue) {
  const notifyWaiters = SqsQueue.prototype.notifyWaiters;
  const waitForMessages = SqsQueue.prototype.waitForMessages;
  const dequeue = SqsQueue.prototype.dequeue;
  SqsQueue.prototype.notifyWaiters = function () {
    if (this.isFifo()) return notifyWaiters.call(this);
    if (this.waking) return; // a woken receive has not taken its messages yet
    const waiter = this.pollWaiters.shift();
    if (!waiter) return;
    this.waking = true;
    globalThis.clearTimeout(waiter.timer);
    waiter.resolve();
  };
  SqsQueue.prototype.waitForMessages = async function (waitTimeSeconds) {
    if (this.isFifo()) return waitForMessages.call(this, waitTimeSeconds);
    const deadline = Date.now() + waitTimeSeconds * 1000;
    for (;;) {
      await waitForMessages.call(this, Math.max(0, deadline - Date.now()) / 1000);
      if (this.messages.length > 0 || Date.now() >= deadline) return;
      this.waking = false; // woken for messages another receive took: wait on
    }
  };
  SqsQueue.prototype.dequeue = function (maxCount, visibilityTimeout, dlqResolver) {
    const received = dequeue.call(this, maxCount, visibilityTimeout, dlqResolver);
    if (!this.isFifo()) {
      this.waking = false;
      if (this.messages.length > 0) this.notifyWaiters();
    }
    return received;
  };
}

/**
 * SQS's at-least-once delivery on standard queues: "one of the servers that stores a copy of a
 * message might be unavailable when you receive or delete a message. If this occurs, the copy of
 * the message isn't deleted on the server that is unavailable, and you might get that message
 * copy again when you receive messages" (Amazon SQS at-least-once delivery). With probability
 * `rate` a received message leaves such a copy: same id, body, attributes and group, its receive
 * count as before this receive, ready at once at the front of the queue, so the next receive
 * may take it while the original is still being handled, or after it was deleted. A message
 * leaves one copy at most, and a copy none (each message is one more time at most: its receives
 * by visibility timeout aside), and a copy is not persisted (the local
 * stack refuses the rate with a data folder: a copy's delete would remove the original's row).
 */
function leaveCopiesBehind(SqsQueue, rate) {
  const dequeue = SqsQueue.prototype.dequeue;
  SqsQueue.prototype.dequeue = function (maxCount, visibilityTimeout, dlqResolver) {
    const received = dequeue.call(this, maxCount, visibilityTimeout, dlqResolver);
    if (this.isFifo()) return received;
    let left = false;
    for (const message of received) {
      const original = this.inflightMessages.get(message.ReceiptHandle)?.message;
      // One copy per message: not of a copy, nor again when the original comes back.
      if (!original || original.isCopy || original.copied || Math.random() >= rate) continue;
      original.copied = true;
      this.messages.unshift({ ...original, approximateReceiveCount: original.approximateReceiveCount - 1, isCopy: true });
      left = true;
    }
    if (left) this.notifyWaiters();
    return received;
  };
}

/**
 * The servers the short poll being answered asks, set by the ReceiveMessage action around the
 * synchronous part of fauxqs's handler, which is where a receive's first dequeue happens (a long
 * poll's later ones come after an await, with this unset).
 */
let askedServers;

/** A random set of SHORT_POLL_SERVERS_ASKED of the SHORT_POLL_SERVERS servers. */
function someServers() {
  const servers = Array.from({ length: SHORT_POLL_SERVERS }, (_, server) => server);
  for (let index = servers.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [servers[index], servers[other]] = [servers[other], servers[index]];
  }
  return new Set(servers.slice(0, SHORT_POLL_SERVERS_ASKED));
}

/** The server a message is kept on, drawn when it is first asked for. */
function serverOf(message) {
  message.server ??= Math.floor(Math.random() * SHORT_POLL_SERVERS);
  return message.server;
}

/**
 * SQS's short poll asks a random subset of the servers and answers at once, so a receive may
 * miss messages that a later one returns, and with few messages it may return none: "you might
 * not receive any messages in a particular ReceiveMessage response; in which case you should
 * repeat the request" (the `ReceiveMessage` reference; Amazon SQS short and long polling). The
 * ready messages on the servers not asked are set aside for the dequeue and put back in their
 * places after it. Long polls ask every server; FIFO queues are left as they are.
 */
function askSomeServersOnShortPolls(SqsQueue) {
  const dequeue = SqsQueue.prototype.dequeue;
  SqsQueue.prototype.dequeue = function (maxCount, visibilityTimeout, dlqResolver) {
    const asked = askedServers;
    askedServers = undefined;
    if (!asked || this.isFifo()) return dequeue.call(this, maxCount, visibilityTimeout, dlqResolver);
    this.processTimers();
    const all = this.messages;
    const reachable = all.filter((message) => asked.has(serverOf(message)));
    if (reachable.length === all.length) return dequeue.call(this, maxCount, visibilityTimeout, dlqResolver);
    const offered = new Set(reachable);
    this.messages = reachable;
    try {
      return dequeue.call(this, maxCount, visibilityTimeout, dlqResolver);
    } finally {
      // Taken (received or moved to a DLQ): those offered and no longer ready; any that became
      // ready during the dequeue are kept too, at-least-once copies at the front, where
      // `leaveCopiesBehind` puts them.
      const left = new Set(this.messages);
      const arrived = this.messages.filter((message) => !offered.has(message));
      const copies = arrived.filter((message) => message.isCopy);
      const others = arrived.filter((message) => !message.isCopy);
      this.messages = copies.concat(all.filter((message) => !offered.has(message) || left.has(message)), others);
      if (this.messages.length > 0) this.notifyWaiters();
    }
  };
}

/**
 * Puts the ready messages in the order a fair queue serves them: quiet tenants' messages first
 * in queue order, then each noisy tenant's, the one with fewest messages in flight first. With
 * no noisy tenant the order is left alone. Detection is judged afresh at each receive (AWS: the
 * prioritization lasts until the noisy tenant's shares drop to levels comparable to the quiet
 * ones'; docs/design.md §3.14 on the sticky reading tried and taken out).
 */
function orderFairly(queue, now) {
  if (queue.messages.length < 2) return;
  const inFlight = new Map();
  for (const entry of queue.inflightMessages.values()) {
    const tenant = tenantOf(entry.message);
    inFlight.set(tenant, (inFlight.get(tenant) ?? 0) + 1);
  }
  const noisy = new Set();
  const total = queue.inflightMessages.size;
  for (const [tenant, count] of inFlight) {
    if (count >= NOISY_MIN_IN_FLIGHT && count / total > NOISY_CONCURRENCY_SHARE) noisy.add(tenant);
  }
  for (const [tenant, share] of processingShares(queue, now)) {
    if (share > NOISY_PROCESSING_SHARE) noisy.add(tenant);
  }
  if (noisy.size === 0) return;
  const quiet = [];
  const loud = new Map();
  for (const message of queue.messages) {
    const tenant = tenantOf(message);
    if (!noisy.has(tenant)) quiet.push(message);
    else if (loud.has(tenant)) loud.get(tenant).push(message);
    else loud.set(tenant, [message]);
  }
  if (loud.size === 0) return;
  const byLoad = [...loud.entries()].sort(([a], [b]) => (inFlight.get(a) ?? 0) - (inFlight.get(b) ?? 0));
  queue.messages = quiet.concat(...byLoad.map(([, messages]) => messages));
}

/**
 * Processing time per tenant, kept in one-second buckets with running totals, so that each
 * receive reads the window's shares in time proportional to the tenants, not the messages.
 */
function processingWindow(queue) {
  queue.processing ??= { buckets: [], totals: new Map(), total: 0 };
  return queue.processing;
}

function recordProcessingTime(queue, tenant, now, ms) {
  const window = processingWindow(queue);
  const second = Math.floor(now / 1000);
  let bucket = window.buckets.at(-1);
  if (bucket?.second !== second) {
    bucket = { second, byTenant: new Map() };
    window.buckets.push(bucket);
  }
  bucket.byTenant.set(tenant, (bucket.byTenant.get(tenant) ?? 0) + ms);
  window.totals.set(tenant, (window.totals.get(tenant) ?? 0) + ms);
  window.total += ms;
}

/** Each tenant's share of the processing time its messages took within the window. */
function processingShares(queue, now) {
  const window = processingWindow(queue);
  const oldest = Math.floor((now - PROCESSING_WINDOW_MS) / 1000);
  while (window.buckets.length > 0 && window.buckets[0].second < oldest) {
    for (const [tenant, ms] of window.buckets.shift().byTenant) {
      const left = window.totals.get(tenant) - ms;
      if (left > 0) window.totals.set(tenant, left);
      else window.totals.delete(tenant);
      window.total -= ms;
    }
  }
  const shares = new Map();
  if (window.total <= 0) return shares;
  for (const [tenant, ms] of window.totals) shares.set(tenant, ms / window.total);
  return shares;
}

/**
 * Messages past the queue's retention period are deleted, whether waiting, delayed or back from
 * a consumer. A message a redrive policy moved from a standard queue keeps its first enqueue
 * time (fauxqs moves the message object itself); from a FIFO queue it counts from the move.
 */
function expireMessages(SqsQueue) {
  const processTimers = SqsQueue.prototype.processTimers;
  SqsQueue.prototype.processTimers = function () {
    processTimers.call(this);
    const now = Date.now();
    if (now - (this.lastRetentionSweep ?? 0) < RETENTION_SWEEP_MS) return;
    this.lastRetentionSweep = now;
    const retentionMs = Number(this.attributes.MessageRetentionPeriod) * 1000;
    if (!(retentionMs > 0)) return;
    const alive = (message) => {
      if (now - (message.enqueuedAt ?? message.sentTimestamp) < retentionMs) return true;
      this.persistence?.deleteMessage(message.messageId);
      return false;
    };
    if (this.isFifo()) {
      for (const groups of [this.fifoMessages, this.fifoDelayed]) {
        for (const [groupId, messages] of groups) {
          const kept = messages.filter(alive);
          if (kept.length > 0) groups.set(groupId, kept);
          else groups.delete(groupId);
        }
      }
      return;
    }
    this.messages = this.messages.filter(alive);
    this.delayedMessages = this.delayedMessages.filter(alive);
  };
  // Queue counts are read without a receive: expire first so they do not count dead messages.
  const getAllAttributes = SqsQueue.prototype.getAllAttributes;
  SqsQueue.prototype.getAllAttributes = function (requested) {
    this.processTimers();
    return getAllAttributes.call(this, requested);
  };
}

/** Checks and records that happen around fauxqs's own actions. */
function wrapActions(SqsRouter, SqsError) {
  const delayError = (value) =>
    `Value ${value} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= ${MAX_DELAY_SECONDS}.`;
  const invalidDelay = (value) => value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= MAX_DELAY_SECONDS);
  // AWS: at most 128 characters, letters, digits and ASCII punctuation (SQS message quotas); fauxqs
  // took any string, so a tenant id SQS refuses (a space, an accent) went through locally.
  const groupIdError = (value) =>
    value !== undefined && !/^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/.test(String(value))
      ? `Value ${value} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.`
      : undefined;
  const entryError = (entry) => (invalidDelay(entry?.DelaySeconds) ? delayError(entry.DelaySeconds) : groupIdError(entry?.MessageGroupId));
  const isStandard = (body, store) => {
    const queue = body?.QueueUrl ? store.getQueue(body.QueueUrl) : undefined;
    return queue !== undefined && !queue.isFifo();
  };
  const wrappers = {
    SendMessage: (handler) => (body, store, request) => {
      const error = entryError(body);
      if (error) throw new SqsError('InvalidParameterValue', error);
      sending = isStandard(body, store) && body.MessageGroupId ? [{ body: body.MessageBody, groupId: body.MessageGroupId }] : [];
      try {
        return handler(body, store, request);
      } finally {
        sending = [];
      }
    },
    SendMessageBatch: (handler) => (body, store, request) => {
      const entries = Array.isArray(body?.Entries) ? body.Entries : [];
      const refused = entries.filter((entry) => entryError(entry));
      const accepted = entries.filter((entry) => !entryError(entry));
      if (accepted.length === 0 && refused.length > 0) {
        return { Successful: [], Failed: refused.map((entry) => failedEntry(entry)) };
      }
      sending = isStandard(body, store)
        ? accepted.filter((entry) => entry.MessageGroupId).map((entry) => ({ body: entry.MessageBody, groupId: entry.MessageGroupId }))
        : [];
      try {
        const result = handler({ ...body, Entries: accepted }, store, request);
        return { ...result, Failed: [...(result.Failed ?? []), ...refused.map((entry) => failedEntry(entry))] };
      } finally {
        sending = [];
      }
    },
    ReceiveMessage: (handler) => async (body, store, request) => {
      const queue = store.getQueue(body?.QueueUrl);
      const waitSeconds = body?.WaitTimeSeconds ?? Number(queue?.attributes.ReceiveMessageWaitTimeSeconds ?? 0);
      askedServers = queue && Number(waitSeconds) === 0 ? someServers() : undefined;
      let answer;
      try {
        answer = handler(body, store, request);
      } finally {
        askedServers = undefined;
      }
      const result = await answer;
      const names = [...(body?.AttributeNames ?? []), ...(body?.MessageSystemAttributeNames ?? [])];
      if (!result.Messages || !(names.includes('All') || names.includes('DeadLetterQueueSourceArn'))) return result;
      for (const message of result.Messages) {
        const source = queue?.inflightMessages.get(message.ReceiptHandle)?.message.deadLetterQueueSourceArn;
        if (source) message.Attributes = { ...message.Attributes, DeadLetterQueueSourceArn: source };
      }
      return result;
    },
  };
  function failedEntry(entry) {
    return { Id: entry.Id, SenderFault: true, Code: 'InvalidParameterValue', Message: entryError(entry) };
  }
  const register = SqsRouter.prototype.register;
  SqsRouter.prototype.register = function (action, handler) {
    const wrap = wrappers[action];
    return register.call(this, action, wrap ? wrap(handler) : handler);
  };
}
