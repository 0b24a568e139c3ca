// The README is a guide a newcomer reads in one sitting; the reference lives in docs/. Both stay
// navigable (every relative link lands on a file and heading that exist) and the figures the
// README quotes are the ones BENCHMARKS.md records, not numbers copied once and left to age.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const README_MAX_BYTES = 25 * 1000;
/** The README section whose figures must come from BENCHMARKS.md. */
const FIGURES_SECTION = 'How reliable, how fast, what it costs';

const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The text outside fenced code blocks: links and headings in code are not links or headings. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** Relative link targets of a page: `[text](target)` and `![alt](target)`, web links left out. */
function linksOf(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map(([, target]) => target!)
    .filter((target) => !/^[a-z]+:/i.test(target));
}

describe('README and docs/', () => {
  test(`the README is a guide of at most ${README_MAX_BYTES / 1000} KB`, () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });

  test('the README states the Node versions package.json asks for and pins', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: { node: string } };
    expect(readme).toContain(`\`${pkg.engines.node}\``);
    const [major, minor] = pkg.devDependencies.node.split('.');
    expect(readme).toContain(`Node ${major}.${minor}`);
    expect(readme).not.toMatch(/Node\.js ≥ 20|Node\.js >= 20/);
  });

  test('the README links every reference page of docs/', () => {
    const linked = new Set(linksOf(readFileSync(join(root, 'README.md'), 'utf8')).map((target) => target.split('#')[0]));
    for (const page of ['docs/api.md', 'docs/configuration.md', 'docs/tiledesk-compatibility.md', 'docs/security.md', 'docs/operations.md', 'docs/design.md']) {
      expect({ page, linked: linked.has(page) }).toEqual({ page, linked: true });
    }
  });

  test.each(pages)('every relative link of %s resolves, file and #anchor', (page) => {
    const text = readFileSync(join(root, page), 'utf8');
    const broken: string[] = [];
    for (const target of linksOf(text)) {
      const [file, anchor] = target.split('#') as [string, string | undefined];
      const path = file ? resolve(dirname(join(root, page)), decodeURI(file)) : join(root, page);
      if (!existsSync(path)) {
        broken.push(`${target}: no such file`);
        continue;
      }
      if (anchor !== undefined && (!path.endsWith('.md') || !anchorsOf(readFileSync(path, 'utf8')).has(anchor))) {
        broken.push(`${target}: no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the link check is not vacuous: it finds links, and a heading’s anchor as GitHub spells it', () => {
    expect(linksOf(readFileSync(join(root, 'README.md'), 'utf8')).length).toBeGreaterThan(5);
    expect(anchorsOf('## operator.select: choose the agent\n## `GET /events` (new)\n## A\n## A')).toEqual(
      new Set(['operatorselect-choose-the-agent', 'get-events-new', 'a', 'a-1']),
    );
  });

  test('every figure the README quotes is one BENCHMARKS.md records', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const start = readme.indexOf(`## ${FIGURES_SECTION}`);
    expect(start).toBeGreaterThanOrEqual(0);
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const benchmarks = readFileSync(join(root, 'BENCHMARKS.md'), 'utf8').replace(/\*\*/g, '');
    // Figures: a number with a unit of measure or a dollar sign (plain counts and links are not figures).
    const figures = [...section.matchAll(/\$\d[\d,.]*|\b\d[\d,.]*\s?(?:ms|\/s|%|KB)(?![\w])/g)].map(([figure]) => figure.replace(/\s/, ' '));
    expect(figures.length).toBeGreaterThanOrEqual(3);
    const missing = figures.filter((figure) => !benchmarks.includes(figure) && !benchmarks.includes(figure.replace(' ', '')));
    expect(missing).toEqual([]);
  });
});
