import { useEffect, useRef, useState } from 'preact/hooks';
import { OUTCOMES, type Attempt, type AttemptPage, type ProjectApi } from './api';
import { formatDuration, prettyJson, prettyText } from './format';
import { ErrorMessage, Notice, OutcomeBadge, Time, useAction } from './ui';

const PAGE_SIZE = 25;

/**
 * Attempts newest first, a page at a time ("Load older"), filtered by outcome, event and
 * message over what is loaded; one opens to its request, response and next retry. A message is
 * one published event (its event id): across the project it shows every subscription's attempts
 * of it.
 */
export function AttemptList(props: {
  api: ProjectApi;
  load: (cursor: string | null, limit: number) => Promise<AttemptPage>;
  /** Changes when the list must be read again (e.g. after a test ping). */
  refreshKey?: unknown;
  showSubscription?: boolean;
  title: string;
  /** Show only this message's attempts (an event id) at first. */
  message?: string;
  /** Where a message's attempts across subscriptions are shown; without it, this list filters itself. */
  onShowMessage?: (eventId: string) => void;
}) {
  const [items, setItems] = useState<Attempt[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [outcome, setOutcome] = useState('');
  const [event, setEvent] = useState('');
  const [message, setMessage] = useState(props.message ?? '');
  const [selected, setSelected] = useState<string>();
  const [round, setRound] = useState(0);

  const loadPage = async (from: string | null): Promise<void> => {
    setLoading(true);
    setError(undefined);
    try {
      const page = await props.load(from, PAGE_SIZE);
      setItems((previous) => (from ? [...previous, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void loadPage(null);
  }, [props.refreshKey, round]);

  const events = [...new Set(items.map((item) => item.event))].sort();
  const shown = items.filter(
    (item) => (!outcome || item.outcome === outcome) && (!event || item.event === event) && (!message || item.eventId === message),
  );
  const showMessage = (eventId: string): void => (props.onShowMessage ? props.onShowMessage(eventId) : setMessage(eventId));
  const current = items.find((item) => item.logId === selected);
  const titleId = `attempts-${props.title.replace(/\W+/g, '-').toLowerCase()}`;

  return (
    <section aria-labelledby={titleId} class="attempts">
      <h3 id={titleId}>{props.title}</h3>
      <div class="toolbar">
        <label>
          Outcome{' '}
          <select value={outcome} onChange={(e) => setOutcome(e.currentTarget.value)}>
            <option value="">all</option>
            {OUTCOMES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Event{' '}
          <select value={event} onChange={(e) => setEvent(e.currentTarget.value)}>
            <option value="">all</option>
            {events.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setRound((value) => value + 1)} disabled={loading}>
          Refresh
        </button>
      </div>
      {message && (
        <p class="muted">
          Message <code>{message}</code>: its attempts{props.showSubscription ? ' to every subscription' : ''}.{' '}
          <button type="button" class="link" onClick={() => setMessage('')}>
            Show all messages
          </button>
        </p>
      )}
      <ErrorMessage error={error} />
      <p class="muted" aria-live="polite">
        {loading ? 'Loading attempts…' : `${shown.length} of ${items.length} loaded attempts shown, newest first.`}
        {(outcome || event || message) && cursor ? ' Filters apply to loaded attempts: load older ones to search further.' : ''}
      </p>
      {shown.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label={`${props.title}, scrollable`}>
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Message</th>
                {props.showSubscription && <th scope="col">Target</th>}
                <th scope="col">Outcome</th>
                <th scope="col">HTTP</th>
                <th scope="col">Duration</th>
                <th scope="col">Try</th>
                <th scope="col">
                  <span class="visually-hidden">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((item) => (
                <tr key={item.logId} class={item.logId === selected ? 'selected' : undefined} data-outcome={item.outcome}>
                  <td>
                    <Time iso={item.attemptedAt} />
                  </td>
                  <td>
                    <code>{item.event}</code>
                  </td>
                  <td>
                    <button type="button" class="link mono" title={`webhook-id ${item.webhookId}`} onClick={() => showMessage(item.eventId)}>
                      {shortId(item.eventId)}
                      <span class="visually-hidden"> — show this message's attempts{props.onShowMessage ? ' across subscriptions' : ''}</span>
                    </button>
                  </td>
                  {props.showSubscription && (
                    <td class="mono wrap" title={`subscription ${item.subscriptionId}`}>
                      {item.target}
                    </td>
                  )}
                  <td>
                    <OutcomeBadge outcome={item.outcome} />
                  </td>
                  <td>{item.statusCode ?? '—'}</td>
                  <td>{formatDuration(item.durationMs)}</td>
                  <td>{item.attempt}</td>
                  <td>
                    <button
                      type="button"
                      aria-expanded={item.logId === selected}
                      aria-controls="attempt-detail"
                      onClick={() => setSelected(item.logId === selected ? undefined : item.logId)}
                    >
                      {item.logId === selected ? 'Close' : 'Open'}
                      <span class="visually-hidden"> attempt {item.attempt} of {item.event} ({item.outcome})</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button type="button" onClick={() => loadPage(cursor)} disabled={loading}>
          Load older attempts
        </button>
      )}
      {current && <AttemptDetail api={props.api} attempt={current} onRetried={() => setRound((value) => value + 1)} />}
    </section>
  );
}

/** An event id short enough for a table cell; the full one is in the details and the title. */
const shortId = (id: string): string => (id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** The headers every delivery carries that can be told from the log (the signature is not kept). */
function knownHeaders(attempt: Attempt): [string, string][] {
  return [
    ['content-type', 'application/json'],
    ['webhook-id', attempt.webhookId],
    ['webhook-timestamp', String(Math.floor(Date.parse(attempt.attemptedAt) / 1000))],
    ['webhook-signature', 'v1,… (HMAC-SHA256 with the subscription’s secret; not logged)'],
  ];
}

/** One attempt: what was sent, what came back, what happens next; and a retry. */
export function AttemptDetail({ api, attempt, onRetried }: { api: ProjectApi; attempt: Attempt; onRetried: () => void }) {
  const action = useAction();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [attempt.logId]);
  const retry = () =>
    action.run(async () => {
      const result = await api.retry(attempt.subscriptionId, attempt.logId);
      onRetried();
      return `Retry enqueued under webhook id ${result.webhookId}. Its attempt appears in the list once delivered (Refresh).`;
    });
  return (
    <section id="attempt-detail" class="detail" aria-labelledby="attempt-detail-title">
      <h4 id="attempt-detail-title" ref={heading} tabIndex={-1}>
        Attempt {attempt.attempt} of <code>{attempt.event}</code>: <OutcomeBadge outcome={attempt.outcome} />
      </h4>
      <div class="columns">
        <div>
          <h5>Request</h5>
          <dl>
            <dt>Sent</dt>
            <dd>
              <Time iso={attempt.attemptedAt} />
            </dd>
            <dt>Target</dt>
            <dd class="mono">POST {attempt.target}</dd>
            <dt>Event id (message)</dt>
            <dd class="mono">{attempt.eventId}</dd>
            <dt>Webhook id</dt>
            <dd class="mono">{attempt.webhookId}</dd>
          </dl>
          <h6>Headers</h6>
          <pre class="code" tabIndex={0} aria-label="Request headers">
            {knownHeaders(attempt)
              .map(([name, value]) => `${name}: ${value}`)
              .join('\n')}
          </pre>
          <h6>Payload</h6>
          {attempt.payload ? (
            <pre class="code" tabIndex={0} aria-label="Request payload">
              {prettyJson(attempt.payload)}
            </pre>
          ) : (
            <p class="muted">Not kept for this attempt{attempt.payloadOmitted ? `: ${attempt.payloadOmitted}` : ''}.</p>
          )}
        </div>
        <div>
          <h5>Response</h5>
          <dl>
            <dt>Status</dt>
            <dd data-testid="response-status">{attempt.statusCode ?? 'no answer'}</dd>
            <dt>Duration</dt>
            <dd>{formatDuration(attempt.durationMs)}</dd>
            {attempt.errorKind && (
              <>
                <dt>Error kind</dt>
                <dd>{attempt.errorKind}</dd>
              </>
            )}
            {attempt.error && (
              <>
                <dt>Error</dt>
                <dd>{attempt.error}</dd>
              </>
            )}
            <dt>Next retry</dt>
            <dd>{attempt.nextAttemptAt ? <Time iso={attempt.nextAttemptAt} /> : 'none scheduled'}</dd>
          </dl>
          <h6>Body (truncated)</h6>
          {attempt.responseBody ? (
            <pre class="code" tabIndex={0} aria-label="Response body">
              {prettyText(attempt.responseBody)}
            </pre>
          ) : (
            <p class="muted">Empty.</p>
          )}
        </div>
      </div>
      <p>
        <button type="button" onClick={retry} disabled={action.busy}>
          Retry this delivery
        </button>
      </p>
      <ErrorMessage error={action.error} />
      <Notice>{action.notice}</Notice>
    </section>
  );
}
