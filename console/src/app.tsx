import { useEffect, useMemo, useState } from 'preact/hooks';
import { type EventCatalog, type Session, projectApi } from './api';
import { AttemptList } from './attempts';
import { prettyJson } from './format';
import { clearSession, loadSession, managedProjects, readClaims, saveSession, takeFragmentSignIn } from './session';
import { SubscriptionDetail, SubscriptionsView } from './subscriptions';
import { ErrorMessage, ViewHeading, useAction, useLoad } from './ui';

type View = { name: 'subscriptions' } | { name: 'subscription'; id: string } | { name: 'attempts'; message?: string } | { name: 'events' };

const fromLink = takeFragmentSignIn();

export function App() {
  const [session, setSession] = useState<Session | undefined>(() => (fromLink.token ? undefined : loadSession()));
  if (!session) {
    return (
      <SignIn
        initialToken={fromLink.token}
        initialProject={fromLink.projectId}
        onSignedIn={(signedIn) => {
          saveSession(signedIn);
          setSession(signedIn);
        }}
      />
    );
  }
  return (
    <Console
      session={session}
      onSignOut={() => {
        clearSession();
        setSession(undefined);
      }}
    />
  );
}

/** Token sign-in: the token is checked by listing the project's subscriptions. */
function SignIn(props: { initialToken?: string; initialProject?: string; onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState(props.initialToken ?? '');
  const claims = readClaims(token);
  const projects = managedProjects(claims);
  const [project, setProject] = useState(props.initialProject ?? '');
  const projectId = project || projects[0] || '';
  const action = useAction();
  const signIn = () =>
    action.run(async () => {
      const session = { token: token.trim(), projectId: projectId.trim() };
      await projectApi(session).list();
      props.onSignedIn(session);
    });
  // A sign-in link (`#token=…`) signs in at once when it names the project or the token does.
  useEffect(() => {
    if (props.initialToken && projectId) void signIn();
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    void signIn();
  };
  return (
    <main id="main" class="signin">
      <ViewHeading>Sign in to the webhooks console</ViewHeading>
      <form onSubmit={submit} class="card">
        <p>
          <label for="token">API token</label>
          <textarea id="token" required rows={4} class="mono" autoComplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-describedby="token-help" />
          <span id="token-help" class="help">
            A token of this service (<code>npm run token</code>), or a Tiledesk token where that sign-in is on. It stays in this tab only.
          </span>
        </p>
        <p>
          <label for="project">Project id</label>
          <input id="project" required value={projectId} list="project-options" autoComplete="off" onInput={(e) => setProject(e.currentTarget.value)} />
          <datalist id="project-options">
            {projects.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </p>
        <button type="submit" disabled={action.busy}>
          Sign in
        </button>
        <ErrorMessage error={action.error} />
      </form>
    </main>
  );
}

const NAV: { name: View['name']; label: string }[] = [
  { name: 'subscriptions', label: 'Subscriptions' },
  { name: 'attempts', label: 'All attempts' },
  { name: 'events', label: 'Event catalog' },
];

function Console({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const api = useMemo(() => projectApi(session), [session.token, session.projectId]);
  const catalog = useLoad(() => api.events(), [api]);
  const [view, setView] = useState<View>({ name: 'subscriptions' });
  const active = view.name === 'subscription' ? 'subscriptions' : view.name;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <h1>
          Webhooks <span class="muted">· project</span> <code>{session.projectId}</code>
        </h1>
        <nav aria-label="Console">
          <ul>
            {NAV.map((item) => (
              <li key={item.name}>
                <button type="button" aria-current={active === item.name ? 'page' : undefined} onClick={() => setView({ name: item.name } as View)}>
                  {item.label}
                </button>
              </li>
            ))}
            <li>
              <button type="button" onClick={onSignOut}>
                Sign out
              </button>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main">
        {view.name === 'subscriptions' && (
          <SubscriptionsView api={api} catalog={catalog.data} onOpen={(id) => setView({ name: 'subscription', id })} />
        )}
        {view.name === 'subscription' && (
          <SubscriptionDetail
            key={view.id}
            api={api}
            id={view.id}
            catalog={catalog.data}
            onBack={() => setView({ name: 'subscriptions' })}
            onShowMessage={(message) => setView({ name: 'attempts', message })}
          />
        )}
        {view.name === 'attempts' && (
          <>
            <ViewHeading>All attempts</ViewHeading>
            <AttemptList
              key={view.message ?? ''}
              api={api}
              title="Attempts across the project"
              showSubscription
              message={view.message}
              load={(cursor, limit) => api.history(cursor, limit)}
            />
          </>
        )}
        {view.name === 'events' && <EventsView catalog={catalog.data} error={catalog.error} />}
      </main>
    </>
  );
}

function EventsView({ catalog, error }: { catalog: EventCatalog | undefined; error: unknown }) {
  return (
    <>
      <ViewHeading>Event catalog</ViewHeading>
      <ErrorMessage error={error} />
      {catalog && (
        <>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Events, scrollable">
            <table>
              <caption>Events a subscription can name</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Meaning</th>
                  <th scope="col">Example payload</th>
                </tr>
              </thead>
              <tbody>
                {catalog.events.map((entry) => (
                  <tr key={entry.event}>
                    <td>
                      <code>{entry.event}</code>
                    </td>
                    <td>{entry.description}</td>
                    <td>
                      <details>
                        <summary>
                          Example<span class="visually-hidden"> payload of {entry.event}</span>
                        </summary>
                        <pre class="code" tabIndex={0} aria-label={`Example payload of ${entry.event}`}>
                          {prettyJson(entry.example)}
                        </pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Refinements, scrollable">
            <table>
              <caption>Refinements: a base event narrowed by a name from its payload</caption>
              <thead>
                <tr>
                  <th scope="col">Pattern</th>
                  <th scope="col">Base event</th>
                  <th scope="col">Meaning</th>
                </tr>
              </thead>
              <tbody>
                {catalog.refinements.map((entry) => (
                  <tr key={entry.pattern}>
                    <td>
                      <code>{entry.pattern}</code>
                    </td>
                    <td>
                      <code>{entry.base}</code>
                    </td>
                    <td>{entry.description}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
