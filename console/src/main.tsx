import { render } from 'preact';
import { useErrorBoundary } from 'preact/hooks';
import { App } from './app';
import './styles.css';

/** A rendering failure is shown in words with a way out, never as a blank page. */
function Guarded() {
  const [error, reset] = useErrorBoundary();
  if (error) {
    return (
      <main id="main">
        <div class="error" role="alert">
          <p>
            <strong>The console hit an unexpected error:</strong> {error instanceof Error ? error.message : String(error)}
          </p>
          <p>
            <button type="button" onClick={reset}>
              Try again
            </button>{' '}
            or reload the page.
          </p>
        </div>
      </main>
    );
  }
  return <App />;
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<Guarded />, root);
}
