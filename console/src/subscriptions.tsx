import { useState } from 'preact/hooks';
import type { Attempt, EventCatalog, ProjectApi, Subscription } from './api';
import { AttemptList } from './attempts';
import { DeliveryChart } from './chart';
import { formatDuration, isoToLocalInput, localInputToIso } from './format';
import {
  ConfirmDialog,
  ErrorMessage,
  HealthSummary,
  Notice,
  OutcomeBadge,
  SecretOnce,
  StatusBadge,
  Time,
  ViewHeading,
  useAction,
  useLoad,
} from './ui';

/** A datalist of the catalog's events, for the event fields. */
export function EventOptions({ catalog }: { catalog: EventCatalog | undefined }) {
  return (
    <datalist id="event-options">
      {catalog?.events.map((entry) => (
        <option key={entry.event} value={entry.event}>
          {entry.description}
        </option>
      ))}
      {catalog?.refinements.map((entry) => (
        <option key={entry.pattern} value={entry.prefix}>
          {entry.description}
        </option>
      ))}
    </datalist>
  );
}

/** An optional rate limit field's value as the API takes it. */
const parseRateLimit = (text: string): number | undefined => (text.trim() === '' ? undefined : Number(text));

/** The project's subscriptions at a glance, and the form that creates one. */
export function SubscriptionsView(props: {
  api: ProjectApi;
  catalog: EventCatalog | undefined;
  onOpen: (id: string) => void;
}) {
  const { data, error, loading, reload } = useLoad(() => props.api.list(), [props.api]);
  const [created, setCreated] = useState<Subscription>();
  return (
    <>
      <ViewHeading>Subscriptions</ViewHeading>
      <ErrorMessage error={error} />
      {created?.secret && (
        <SecretOnce what={`Subscription to ${created.event} created`} secret={created.secret} onDone={() => setCreated(undefined)} />
      )}
      {loading && !data && <p class="muted">Loading subscriptions…</p>}
      {data && data.length === 0 && <p>No subscriptions yet: create the first one below.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Subscriptions, scrollable">
          <table class="subscriptions">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Target</th>
                <th scope="col">Status</th>
                <th scope="col">Delivery health</th>
                <th scope="col">Rate limit</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {data.map((subscription) => (
                <tr key={subscription._id} data-id={subscription._id}>
                  <td>
                    <code>{subscription.event}</code>
                  </td>
                  <td class="mono wrap">{subscription.target}</td>
                  <td>
                    <StatusBadge subscription={subscription} />
                    {subscription.disabledReason && <div class="muted">{subscription.disabledReason}</div>}
                  </td>
                  <td>
                    <HealthSummary health={subscription.health} />
                  </td>
                  <td>{subscription.rateLimit ? `${subscription.rateLimit}/s` : 'none'}</td>
                  <td>
                    <button type="button" onClick={() => props.onOpen(subscription._id)}>
                      Open<span class="visually-hidden"> subscription to {subscription.event} at {subscription.target}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateForm
        api={props.api}
        catalog={props.catalog}
        onCreated={(subscription) => {
          setCreated(subscription);
          reload();
        }}
      />
    </>
  );
}

function CreateForm(props: { api: ProjectApi; catalog: EventCatalog | undefined; onCreated: (subscription: Subscription) => void }) {
  const [event, setEvent] = useState('request.create');
  const [target, setTarget] = useState('');
  const [rateLimit, setRateLimit] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const limit = parseRateLimit(rateLimit);
      const created = await props.api.create({ event: event.trim(), target: target.trim(), ...(limit !== undefined && { rateLimit: limit }) });
      props.onCreated(created);
      setTarget('');
      setRateLimit('');
    });
  };
  return (
    <form onSubmit={submit} class="card" aria-labelledby="create-title">
      <h3 id="create-title">New subscription</h3>
      <EventOptions catalog={props.catalog} />
      <p>
        <label for="create-event">Event</label>
        <input id="create-event" list="event-options" required value={event} onInput={(e) => setEvent(e.currentTarget.value)} aria-describedby="create-event-help" />
        <span id="create-event-help" class="help">A catalog event, or a refinement such as message.create.request.channel.telegram.</span>
      </p>
      <p>
        <label for="create-target">Target URL</label>
        <input id="create-target" type="url" required placeholder="https://example.com/hook" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
      </p>
      <p>
        <label for="create-rate">Rate limit (deliveries per second, optional)</label>
        <input id="create-rate" type="number" min="1" step="1" inputMode="numeric" value={rateLimit} onInput={(e) => setRateLimit(e.currentTarget.value)} />
      </p>
      <button type="submit" disabled={action.busy}>
        Create subscription
      </button>
      <ErrorMessage error={action.error} />
    </form>
  );
}

/** One subscription: its settings, actions, chart and attempts. */
export function SubscriptionDetail(props: {
  api: ProjectApi;
  id: string;
  catalog: EventCatalog | undefined;
  onBack: () => void;
  /** Opens a message's attempts across the project's subscriptions. */
  onShowMessage: (eventId: string) => void;
}) {
  const { api, id } = props;
  const { data: subscription, error, reload } = useLoad(() => api.get(id), [api, id]);
  const chartData = useLoad(() => api.logs(id, null, 200), [api, id]);
  const action = useAction();
  const [secret, setSecret] = useState<string>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleted, setDeleted] = useState(false);
  const [ping, setPing] = useState<Attempt>();
  const [refreshKey, setRefreshKey] = useState(0);
  const refresh = () => {
    reload();
    chartData.reload();
    setRefreshKey((value) => value + 1);
  };

  if (deleted) {
    return (
      <>
        <ViewHeading>Subscription deleted</ViewHeading>
        <Notice>The subscription was deleted. Its attempt logs stay readable until they expire.</Notice>
        <button type="button" onClick={props.onBack}>
          Back to subscriptions
        </button>
      </>
    );
  }
  if (!subscription) {
    return (
      <>
        <ViewHeading>Subscription</ViewHeading>
        {error ? <ErrorMessage error={error} /> : <p class="muted">Loading…</p>}
        <button type="button" onClick={props.onBack}>
          Back to subscriptions
        </button>
      </>
    );
  }
  const enabled = subscription.status === 'active';
  return (
    <>
      <p>
        <button type="button" class="link" onClick={props.onBack}>
          ← All subscriptions
        </button>
      </p>
      <ViewHeading>
        <code>{subscription.event}</code> → <span class="wrap">{subscription.target}</span>
      </ViewHeading>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <StatusBadge subscription={subscription} /> {subscription.disabledReason}
        </dd>
        <dt>Delivery health</dt>
        <dd>
          <HealthSummary health={subscription.health} />
        </dd>
        <dt>Rate limit</dt>
        <dd>{subscription.rateLimit ? `${subscription.rateLimit} deliveries per second` : 'none'}</dd>
        <dt>Id</dt>
        <dd class="mono">{subscription._id}</dd>
        <dt>Created</dt>
        <dd>
          <Time iso={subscription.createdAt} /> by {subscription.createdBy}
        </dd>
        <dt>Updated</dt>
        <dd>
          <Time iso={subscription.updatedAt} />
        </dd>
      </dl>
      {secret && <SecretOnce what="Secret rotated" secret={secret} onDone={() => setSecret(undefined)} />}
      <div class="actions" role="group" aria-label="Subscription actions">
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            action.run(async () => {
              await api.update(id, { status: enabled ? 'disabled' : 'active' });
              refresh();
              return enabled ? 'Subscription disabled: events are logged as skipped, not sent.' : 'Subscription enabled again.';
            })
          }
        >
          {enabled ? 'Disable' : 'Enable'}
        </button>
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            action.run(async () => {
              const rotated = await api.rotateSecret(id);
              setSecret(rotated.secret);
              refresh();
              return `Secret rotated. The previous one keeps signing until ${rotated.previousSecretExpiresAt ? new Date(rotated.previousSecretExpiresAt).toLocaleString() : 'it expires'}.`;
            })
          }
        >
          Rotate secret
        </button>
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            action.run(async () => {
              const attempt = await api.testPing(id);
              setPing(attempt);
              refresh();
              return `Test ping sent: ${attempt.outcome}.`;
            })
          }
        >
          Send test ping
        </button>
        {subscription.event !== 'operator.select' && (
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                const sent = await api.sendExample(subscription.event);
                // The example travels the bus, the fan-out and the queue: its attempt lands in a moment.
                setTimeout(refresh, 2000);
                return `Example ${sent.event} event published for the project: every subscriber of it receives it, this one included. Its attempt appears below in a few seconds.`;
              })
            }
          >
            Send example event
          </button>
        )}
        {subscription.health &&
          (subscription.health.circuit !== 'closed' ||
            subscription.health.consecutiveFailures > 0 ||
            subscription.health.lane === 'slow' ||
            (subscription.health.held ?? []).some((held) => held.reason === 'circuit-open')) && (
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                await api.resetHealth(id);
                refresh();
                return 'Delivery health reset: circuit closed, fast lane, no failures counted; held deliveries released.';
              })
            }
          >
            Reset delivery health
          </button>
        )}
        <button type="button" class="danger" disabled={action.busy} onClick={() => setConfirmDelete(true)}>
          Delete…
        </button>
      </div>
      <ErrorMessage error={action.error} />
      <Notice>{action.notice}</Notice>
      {ping && (
        <section class="detail" aria-labelledby="ping-title">
          <h3 id="ping-title">Test ping attempt</h3>
          <p>
            <OutcomeBadge outcome={ping.outcome} /> HTTP {ping.statusCode ?? 'no answer'} in {formatDuration(ping.durationMs)}
            {ping.error && <> — {ping.error}</>}
          </p>
          {ping.responseBody && <pre class="code">{ping.responseBody}</pre>}
        </section>
      )}
      <ConfirmDialog
        open={confirmDelete}
        title="Delete this subscription?"
        confirmLabel="Delete subscription"
        onCancel={() => setConfirmDelete(false)}
        onConfirm={() => {
          setConfirmDelete(false);
          void action.run(async () => {
            await api.remove(id);
            setDeleted(true);
          });
        }}
      >
        <p>
          Deliveries of <code>{subscription.event}</code> to <span class="mono wrap">{subscription.target}</span> stop at once. This
          cannot be undone.
        </p>
      </ConfirmDialog>
      <EditForm api={api} subscription={subscription} catalog={props.catalog} onSaved={refresh} />
      <RecoverForm api={api} id={id} onRecovered={refresh} />
      <section aria-labelledby="chart-title">
        <h3 id="chart-title">Deliveries, failures and latency</h3>
        <ErrorMessage error={chartData.error} />
        {chartData.data && <DeliveryChart attempts={chartData.data.items} />}
      </section>
      <AttemptList
        api={api}
        title="Attempts of this subscription"
        load={(cursor, limit) => api.logs(id, cursor, limit)}
        refreshKey={refreshKey}
        onShowMessage={props.onShowMessage}
      />
    </>
  );
}

function EditForm(props: { api: ProjectApi; subscription: Subscription; catalog: EventCatalog | undefined; onSaved: () => void }) {
  const { subscription } = props;
  const [event, setEvent] = useState(subscription.event);
  const [target, setTarget] = useState(subscription.target);
  const [rateLimit, setRateLimit] = useState(subscription.rateLimit ? String(subscription.rateLimit) : '');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const changes: Parameters<ProjectApi['update']>[1] = {};
      if (event.trim() !== subscription.event) changes.event = event.trim();
      if (target.trim() !== subscription.target) changes.target = target.trim();
      const limit = parseRateLimit(rateLimit);
      if ((limit ?? null) !== (subscription.rateLimit ?? null)) changes.rateLimit = limit ?? null;
      if (Object.keys(changes).length === 0) return 'Nothing changed.';
      await props.api.update(subscription._id, changes);
      props.onSaved();
      return 'Saved.';
    });
  };
  return (
    <form onSubmit={submit} class="card" aria-labelledby="edit-title">
      <h3 id="edit-title">Edit</h3>
      <EventOptions catalog={props.catalog} />
      <p>
        <label for="edit-event">Event</label>
        <input id="edit-event" list="event-options" required value={event} onInput={(e) => setEvent(e.currentTarget.value)} />
      </p>
      <p>
        <label for="edit-target">Target URL</label>
        <input id="edit-target" type="url" required value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
      </p>
      <p>
        <label for="edit-rate">Rate limit (deliveries per second, empty for none)</label>
        <input id="edit-rate" type="number" min="1" step="1" inputMode="numeric" value={rateLimit} onInput={(e) => setRateLimit(e.currentTarget.value)} />
      </p>
      <button type="submit" disabled={action.busy}>
        Save changes
      </button>
      <ErrorMessage error={action.error} />
      <Notice>{action.notice}</Notice>
    </form>
  );
}

/** What a recover did, in one sentence. */
function describeRecovery({ recovered, alreadyRecovered, unrecoverable }: { recovered: number; alreadyRecovered: number; unrecoverable: number }): string {
  const also = [
    alreadyRecovered > 0 ? `${alreadyRecovered} already re-sent by an earlier recover` : '',
    unrecoverable > 0 ? `${unrecoverable} could not be: their payload was not kept` : '',
  ].filter(Boolean);
  if (recovered === 0 && also.length === 0) return 'Nothing to recover since then: every delivery was delivered or is still scheduled.';
  return `${recovered} deliveries re-enqueued${also.length > 0 ? ` (${also.join('; ')})` : ''}.`;
}

function RecoverForm(props: { api: ProjectApi; id: string; onRecovered: () => void }) {
  const [since, setSince] = useState(isoToLocalInput(new Date(Date.now() - 24 * 3600 * 1000)));
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      // One call reads a bounded page of attempts: follow the cursor to the end.
      const total = { recovered: 0, alreadyRecovered: 0, unrecoverable: 0 };
      let cursor: string | null = null;
      do {
        const page = await props.api.recover(props.id, localInputToIso(since), cursor);
        total.recovered += page.recovered;
        total.alreadyRecovered += page.alreadyRecovered;
        total.unrecoverable += page.unrecoverable;
        // A cursor that does not move on would loop for ever: stop there.
        cursor = page.nextCursor === cursor ? null : page.nextCursor;
      } while (cursor);
      props.onRecovered();
      return describeRecovery(total);
    });
  };
  return (
    <form onSubmit={submit} class="card" aria-labelledby="recover-title">
      <h3 id="recover-title">Recover failed deliveries</h3>
      <p class="help">Re-sends, once each, what was dead-lettered, skipped while disabled or long overdue since this time.</p>
      <p>
        <label for="recover-since">Since (your local time)</label>
        <input id="recover-since" type="datetime-local" required value={since} onInput={(e) => setSince(e.currentTarget.value)} />
      </p>
      <button type="submit" disabled={action.busy}>
        Recover
      </button>
      <ErrorMessage error={action.error} />
      <Notice>{action.notice}</Notice>
    </form>
  );
}
