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

  it('the console takes the API answer types from lambdas/core/api-types.ts and declares none of its own', () => {
    const consoleApi = readFileSync(join(root, 'console/src/api.ts'), 'utf8');
    expect(importsOf(join(root, 'console/src/api.ts'))).toContain('lambdas/core/api-types');
    const declared = [...consoleApi.matchAll(/^export (?:interface|type) (\w+)\s*(?:\{|=\s*\{)/gm)].map((m) => m[1]);
    for (const name of ['Subscription', 'Attempt', 'Health', 'AttemptPage', 'EventCatalog', 'FieldError']) {
      expect(declared).not.toContain(name);
    }
  });

  it('the shared types module, and what it imports, need nothing of Node: the console bundles it', () => {
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(join(root, `${file}.ts`), 'utf8');
      expect({ file, node: /from\s+['"](node:|zod|@aws)/.test(text) }).toEqual({ file, node: false });
      importsOf(join(root, `${file}.ts`)).forEach(visit);
    };
    visit('lambdas/core/api-types');
    expect(seen.size).toBeGreaterThan(1);
  });
});
