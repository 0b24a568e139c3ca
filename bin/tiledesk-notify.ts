#!/usr/bin/env node
import { globalHook, notifierRequest, postRaw } from '../local/tiledesk-notifier';
import { UsageError, parseCliArgs, runCli } from './cli';

const USAGE = `Usage: npm run -s tiledesk-notify -- --event <event> [--payload <json>] [--project <id>]
                                 [--url <ingest URL>]

POSTs one webhook request exactly as an unmodified tiledesk-server sends it for a global
subscription (subscriptionNotifier.js): body {timestamp, payload, hook, token}, the token signed
with TILEDESK_GLOBAL_SECRET, the header x-hook-secret = TILEDESK_INGEST_HOOK_SECRET. Set the same
two variables as for npm start. The payload defaults to a small one of --project (demo-project);
--url defaults to the local stack's http://127.0.0.1:$PORT/tiledesk/ingest (PORT 3000); a URL must
be https://, or http:// to this machine (127.0.0.1, localhost, [::1]): the request carries the hook secret.
Prints the answer's status and body (for operator.select, the routing Tiledesk would use).`;

runCli(async () => {
  const { values } = parseCliArgs({
    event: { type: 'string' },
    payload: { type: 'string' },
    project: { type: 'string', default: 'demo-project' },
    url: { type: 'string' },
    help: { type: 'boolean', default: false },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.event) throw new UsageError('--event <event> is required, e.g. --event request.create (--help shows the usage)');
  const key = process.env.TILEDESK_GLOBAL_SECRET?.trim();
  const hookSecret = process.env.TILEDESK_INGEST_HOOK_SECRET?.trim();
  if (!key || !hookSecret) {
    throw new UsageError('set TILEDESK_GLOBAL_SECRET and TILEDESK_INGEST_HOOK_SECRET as for npm start: the token is signed with the first, x-hook-secret is the second');
  }
  let payload: unknown;
  try {
    payload = values.payload === undefined ? samplePayload(values.event, values.project) : JSON.parse(values.payload);
  } catch {
    throw new UsageError(`--payload must be JSON, e.g. --payload '{"id_project":"demo-project","first_text":"hi"}'; got ${values.payload}`);
  }
  const url = values.url ?? `http://127.0.0.1:${process.env.PORT?.trim() || '3000'}/tiledesk/ingest`;
  // The request carries the hook secret and a fresh token: in clear only to this machine.
  const target = URL.canParse(url) ? new URL(url) : undefined;
  const loopback = target !== undefined && ['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname);
  if (!target || !(target.protocol === 'https:' || (target.protocol === 'http:' && loopback))) {
    throw new UsageError(`--url must be https:// (http:// only to this machine: the request carries the hook secret); got ${url}`);
  }
  const { body, headers } = notifierRequest(globalHook(values.event, url), payload, { key, hookSecret });
  let answer;
  try {
    answer = await postRaw(url, body, headers);
  } catch (error) {
    throw new UsageError(`no answer from ${url} (${(error as Error).message}): is npm start running there? (--url sets another)`);
  }
  console.log(`${answer.status} ${answer.text}`);
  if (answer.status >= 400) process.exitCode = 1;
});

/** A small payload of the shape Tiledesk sends for `event`: a routing request for operator.select, else a conversation. */
function samplePayload(event: string, projectId: string): Record<string, unknown> {
  if (event === 'operator.select') return { id_project: projectId, operators: [{ id_user: 'u1' }], departmentId: 'd1' };
  return { id_project: projectId, request_id: `support-group-${projectId}-${Date.now()}`, first_text: 'Hello from tiledesk-notify', status: 200 };
}
