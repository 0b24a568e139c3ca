// One runtime, one home (STYLE.md 12): code that runs in Lambda imports nothing from the
// infrastructure folder, so a function's bundle can never pull in CDK or the local stack.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(__dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative module a file imports, resolved against the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) =>
    relative(root, resolve(dirname(file), m[1] as string)),
  );
}

describe('module structure', () => {
  it('function code imports nothing from lib/ (the infrastructure folder)', () => {
    const upward = sourceFiles(join(root, 'lambdas')).flatMap((file) =>
      importsOf(file)
        .filter((target) => target === 'lib' || target.startsWith('lib/'))
        .map((target) => `${relative(root, file)} → ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it('finds the imports it checks (the scan is not vacuous)', () => {
    expect(importsOf(join(root, 'lambdas/handlers/delivery.ts'))).toContain('lambdas/core/settings');
  });
});
