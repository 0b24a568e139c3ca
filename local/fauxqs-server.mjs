// fauxqs is ESM-only while the project compiles to CommonJS (Jest, CDK), so the local stack
// runs it in this small child process. Prints {"address": ...} once listening; exits when the
// parent closes stdin or sends SIGTERM.
import net from 'node:net';
import { startFauxqs } from 'fauxqs';
import { installSqsRules } from './fauxqs-sqs-rules.mjs';

listenOnLoopbackOnly();
await acceptSupplementaryCharacters();
// Fair queues, retention, DelaySeconds bounds and DLQ sources, as AWS documents them.
// FAUXQS_DUPLICATE_RATE: the share of receives that leave a copy behind (SQS's at-least-once).
await installSqsRules({ duplicateRate: Number(process.env.FAUXQS_DUPLICATE_RATE ?? 0) });
// With a data folder (the local stack's DATA_DIR), queues and their messages outlive a restart.
const dataDir = process.env.FAUXQS_DATA_DIR || undefined;
const server = await startFauxqs({ port: Number(process.env.FAUXQS_PORT ?? 0), logger: false, ...(dataDir ? { dataDir } : {}) });
process.stdout.write(`${JSON.stringify({ address: server.address })}\n`);
const stop = () => server.stop().finally(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
// Ctrl-C and a closed terminal reach the whole process group: the parent stops the stack in
// order (event sources first) and then closes stdin, so these signals are left to it.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

/**
 * SQS accepts #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF in a message
 * body. fauxqs 1.9.2 checks the body with a regular expression that lacks the `u` flag and so
 * refuses every character beyond the BMP (an emoji is a surrogate pair), which would make any
 * chat message with an emoji fail to publish locally. Its check goes through this RegExp
 * object's `test`, so the object is given the full SQS rule.
 */
async function acceptSupplementaryCharacters() {
  const types = await import(new globalThis.URL('./sqs/sqsTypes.js', import.meta.resolve('fauxqs')).href);
  // eslint-disable-next-line no-control-regex -- tab, LF and CR are the SQS rule's own characters
  const sqsRule = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
  types.INVALID_MESSAGE_BODY_CHAR.test = (body) => sqsRule.test(body);
}

/**
 * fauxqs 2.x listens on every interface (`host: "0.0.0.0"`, fixed in its `startFauxqs`), and it
 * checks no credentials: anyone on the network could send delivery messages that the stack
 * then signs and POSTs, or read every project's queued events and claim-checked payloads. The
 * local stack's other servers listen on 127.0.0.1 only, so this process's listens are held to
 * it too (nothing else listens in this process).
 */
function listenOnLoopbackOnly() {
  const listen = net.Server.prototype.listen;
  const wildcard = new Set(['0.0.0.0', '::', '', undefined]);
  net.Server.prototype.listen = function (...args) {
    const [first] = args;
    if (first !== null && typeof first === 'object' && first.path === undefined && wildcard.has(first.host)) {
      args[0] = { ...first, host: '127.0.0.1' };
    }
    return listen.apply(this, args);
  };
}
