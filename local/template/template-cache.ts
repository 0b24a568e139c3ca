import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { WebhooksStackProps } from '../../lib/webhooks-stack';
import type { CfnTemplate } from './synth';

const ROOT = path.resolve(__dirname, '..', '..');
/** Where synthesized templates are kept between processes (ignored by git with node_modules). */
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'tiledesk-webhooks-templates');

const inProcess = new Map<string, CfnTemplate>();

/**
 * The template {@link synthesizeTemplate} gives for these props, synthesized once: kept in this
 * process and on disk, keyed by a hash of everything a synth reads (the constructs in `lib/`, the
 * settings and constants they import from `lambdas/core/`, the aws-cdk-lib version and the
 * props), so the ~60 test files that
 * each start a local stack do not each pay the synth (seconds). A change to any of those files
 * is a new key, so a stale template is never used.
 */
export async function cachedTemplate(props: WebhooksStackProps, stackName: string): Promise<CfnTemplate> {
  const key = templateKey(props, stackName);
  const kept = inProcess.get(key);
  if (kept) return kept;
  const file = path.join(CACHE_DIR, `${key}.json`);
  let template: CfnTemplate;
  try {
    template = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  } catch {
    // Loaded only when needed: the CDK app costs a second to import, the synth several more.
    const { synthesizeTemplate } = await import('./synth');
    template = synthesizeTemplate(props, stackName);
    writeAtomically(file, JSON.stringify(template));
  }
  inProcess.set(key, template);
  return template;
}

function templateKey(props: WebhooksStackProps, stackName: string): string {
  const hash = createHash('sha256');
  // The constructs import settings and a few constants from lambdas/core: all of it is hashed.
  const files = [...filesUnder(path.join(ROOT, 'lib')), ...filesUnder(path.join(ROOT, 'lambdas', 'core')), path.join(ROOT, 'node_modules', 'aws-cdk-lib', 'package.json')];
  for (const file of files) hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  hash.update(JSON.stringify({ props, stackName }));
  return hash.digest('hex').slice(0, 32);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : []))
    .sort();
}

/** Several test files may synthesize the same template at once: each writes whole, then renames. */
function writeAtomically(file: string, text: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const scratch = `${file}.${process.pid}.tmp`;
    writeFileSync(scratch, text);
    renameSync(scratch, file);
  } catch {
    // A read-only checkout only loses the cache.
  }
}
