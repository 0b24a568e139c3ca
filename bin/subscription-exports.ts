#!/usr/bin/env node
import { UsageError, parseCliArgs, runCli } from './cli';

const USAGE = `Usage: curl … /subscriptions … | npm run -s exports

Reads the API's answer for a subscription on stdin, prints it, then the shell line to paste so
the next commands can use it: export SUB=<its _id> SECRET=<its secret> (the secret only when the
answer carries one: a creation or a rotation).`;

/**
 * `npm run -s exports`: turns a subscription answer into ready-to-paste `export` lines, so a
 * walk-through's next commands use `$SUB` and `$SECRET` instead of placeholders to fill in.
 */
runCli(async () => {
  const { values } = parseCliArgs({ help: { type: 'boolean', default: false } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (process.stdin.isTTY) throw new UsageError('pipe the API answer in: curl … | npm run -s exports (--help shows the usage)');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  console.log(text);
  let answer: { _id?: unknown; secret?: unknown; msg?: unknown };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    throw new UsageError('that is not the API’s JSON answer: run the curl command alone to see what it printed');
  }
  if (typeof answer._id !== 'string') {
    throw new UsageError(`no subscription in that answer${typeof answer.msg === 'string' ? `: the API said “${answer.msg}”` : ''}`);
  }
  // Ids and secrets are [A-Za-z0-9_-] and base64: nothing a shell would expand, so no quotes.
  console.log(`export SUB=${answer._id}${typeof answer.secret === 'string' ? ` SECRET=${answer.secret}` : ''}`);
});
