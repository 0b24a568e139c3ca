// The project runs on the Lambda runtime's Node (nodejs22.x) even where the machine's own Node is
// older: the pinned `node` dev dependency puts Node 22 first on the PATH of every npm script.
import { execFileSync } from 'node:child_process';

describe('Node version', () => {
  it('runs the tests on Node 22, as Lambda runs the handlers', () => {
    expect(process.version).toMatch(/^v22\./);
  });

  it('gives child processes started as `node` the same Node 22', () => {
    expect(execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^v22\./);
  });
});
