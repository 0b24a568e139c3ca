import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type Health, type Outcome, type Subscription } from './api';
import { formatTime, relativeTime } from './format';

/** A view's title; takes focus when the view opens, so keyboard and screen-reader users land on it. */
export function ViewHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <h2 ref={ref} tabIndex={-1}>
      {children}
    </h2>
  );
}

/** An error in words, announced at once; field errors listed by name. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const fields = error instanceof ApiError ? error.fields : [];
  return (
    <div class="error" role="alert">
      <p>
        <strong>Error{error instanceof ApiError && error.status ? ` ${error.status}` : ''}:</strong> {message}
      </p>
      {fields.length > 0 && (
        <ul>
          {fields.map((field) => (
            <li key={field.field}>
              <code>{field.field}</code>: {field.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A success message, announced politely. */
export function Notice({ children }: { children: ComponentChildren }) {
  if (!children) return null;
  return (
    <p class="notice" role="status">
      {children}
    </p>
  );
}

/** Loads with `load` now and whenever `deps` change; `reload` loads again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { ...state, reload: () => setRound((value) => value + 1) };
}

/** Runs one action at a time, keeping its error and a success message. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [notice, setNotice] = useState<string>();
  const run = async (action: () => Promise<string | void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setNotice(undefined);
    try {
      const message = await action();
      if (message) setNotice(message);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, notice, run, clear: () => (setError(undefined), setNotice(undefined)) };
}

export function StatusBadge({ subscription }: { subscription: Subscription }) {
  return <span class={`badge ${subscription.status === 'active' ? 'ok' : 'off'}`}>{subscription.status}</span>;
}

export function OutcomeBadge({ outcome }: { outcome: Outcome }) {
  const tone = outcome === 'delivered' ? 'ok' : outcome === 'skipped' || outcome === 'unsubscribed' ? 'off' : 'bad';
  return <span class={`badge ${tone}`}>{outcome}</span>;
}

/**
 * The subscription's delivery health at a glance: its circuit (closed, open, half-open), failures
 * in a row, lane, deliveries held (by the circuit or the rate limit) and when they go, and when
 * it last succeeded and failed.
 */
export function HealthSummary({ health }: { health: Health | undefined }) {
  if (!health) return <span class="muted">not reported</span>;
  const tone = health.circuit === 'open' ? 'bad' : health.circuit === 'half-open' || health.consecutiveFailures > 0 ? 'warn' : 'ok';
  const label = health.circuit === 'closed' ? (health.consecutiveFailures > 0 ? 'failing' : 'healthy') : `circuit ${health.circuit}`;
  const parts = [
    health.consecutiveFailures > 0 ? `${health.consecutiveFailures} failure${health.consecutiveFailures === 1 ? '' : 's'} in a row` : '',
    health.circuit === 'open' && health.openUntil ? `next probe ${relativeTime(health.openUntil)}` : '',
    health.lane === 'slow' ? 'slow lane' : '',
    ...(health.held ?? []).map(
      (held) =>
        `${held.count} held by ${held.reason === 'rate-limit' ? 'the rate limit' : 'the open circuit'}${held.until ? `, going ${relativeTime(held.until)}` : ''}`,
    ),
    health.lastSuccessAt ? `last success ${relativeTime(health.lastSuccessAt)}` : 'no success yet',
    health.lastFailureAt ? `last failure ${relativeTime(health.lastFailureAt)}` : '',
  ].filter(Boolean);
  return (
    <span class="health">
      <span class={`badge ${tone}`}>{label}</span> <span class="muted">{parts.join(' · ')}</span>
    </span>
  );
}

/** Copies text, with a fallback for browsers without the async clipboard. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState<string>();
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('Copy was blocked by the browser: select the text and copy it by hand.');
    }
  };
  return (
    <span>
      <button type="button" onClick={copy}>
        {label}
      </button>{' '}
      <span role="status" class="muted">
        {copied}
      </span>
    </span>
  );
}

/** A modal confirmation (native dialog: focus moves in, Escape cancels). */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={props.onCancel}>
      <h3 id="confirm-title">{props.title}</h3>
      {props.children}
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

/** A secret shown once, with a copy button, until the user says it is saved. */
export function SecretOnce({ secret, onDone, what }: { secret: string; onDone: () => void; what: string }) {
  return (
    <section class="secret" aria-labelledby="secret-title">
      <h3 id="secret-title">{what}: copy the signing secret now</h3>
      <p>It is shown only this once. Your receiver verifies every delivery with it.</p>
      <p>
        <label for="secret-value">Signing secret</label>
        <input id="secret-value" class="mono" readOnly value={secret} onFocus={(event) => event.currentTarget.select()} />
      </p>
      <p>
        <CopyButton text={secret} label="Copy secret" /> <button type="button" onClick={onDone}>I have saved it</button>
      </p>
    </section>
  );
}

export const Time = ({ iso }: { iso: string | undefined }) => <time dateTime={iso}>{formatTime(iso)}</time>;
