/** The bundle phase: each function's bundle size, load time and deployed memory, from `cdk synth`. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Bundle size of each function `cdk synth` produces, and its load time in a fresh process
 * (median of 5); also each function's deployed memory, which the cost model needs.
 */
export function measureBundles(): { figures: Record<string, number>; memoryMB: Record<string, number> } {
  rmSync('cdk.out', { recursive: true, force: true });
  execFileSync('npx', ['cdk', 'synth', '--quiet'], { stdio: 'ignore' });
  const template = JSON.parse(readFileSync('cdk.out/TiledeskWebhooks.template.json', 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Metadata?: Record<string, string>; Properties: { MemorySize?: number; Architectures?: string[]; Environment?: { Variables?: Record<string, unknown> } } }
    >;
  };
  const figures: Record<string, number> = {};
  const memoryMB: Record<string, number> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (resource.Type !== 'AWS::Lambda::Function' || !assetPath) continue;
    const file = path.resolve('cdk.out', assetPath, 'index.js');
    // Median of 5 fresh processes; the second figure loads the AWS SDK clients first (the
    // runtime provides them, the bundles leave them out) and times the bundle alone.
    const loadTime = (preload: string): number =>
      Array.from({ length: 5 }, () => {
        const run = spawnSync(process.execPath, ['-e', `${preload}const t=performance.now();require(${JSON.stringify(file)});console.log(performance.now()-t)`], {
          env: { ...process.env, ...deployedEnvironment(resource.Properties.Environment?.Variables ?? {}), AWS_LAMBDA_FUNCTION_NAME: 'bench', JWT_SECRET: 's', POWERTOOLS_TRACE_ENABLED: 'false' },
          encoding: 'utf8',
        });
        const ms = Number(run.stdout.trim().split('\n').pop());
        // A bundle that throws at load (a setting it refuses) must not read as loading in 0 ms.
        if (run.status !== 0 || run.stdout.trim() === '' || !Number.isFinite(ms)) {
          throw new Error(`the ${logicalId} bundle does not load: ${run.stderr.trim().split('\n').find((line) => /Error|error/.test(line)) ?? run.stderr.trim().slice(0, 300)}`);
        }
        return ms;
      }).sort((a, b) => a - b)[2] ?? NaN;
    const sdkClients = ['@aws-sdk/client-dynamodb', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-sqs', '@aws-sdk/client-secrets-manager'];
    const name = logicalId.replace(/Function[0-9A-F]{8}$/, '');
    figures[`bundleKB_${name}`] = statSync(file).size / 1024;
    figures[`loadMs_${name}`] = loadTime('');
    figures[`loadMsWithoutSdk_${name}`] = loadTime(sdkClients.map((client) => `require(${JSON.stringify(client)});`).join(''));
    // The prices used are arm64's; a function on x86 would cost more.
    if (!resource.Properties.Architectures?.includes('arm64')) throw new Error(`${name} is not arm64`);
    memoryMB[name] = resource.Properties.MemorySize ?? 128;
  }
  return { figures, memoryMB };
}


/**
 * A function's deployed environment as its bundle sees it at cold start: literal values as the
 * template gives them, and a value of the right form for each reference CloudFormation resolves
 * only at deploy time (queue URLs, ARNs, names).
 */
function deployedEnvironment(variables: Record<string, unknown>): Record<string, string> {
  const placeholder = (name: string): string => {
    if (name.endsWith('_URL')) return name.includes('QUEUE') || name.includes('DLQ') ? 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-queue' : 'https://bench.example.com';
    if (name.endsWith('_ARN')) return 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf';
    return 'bench';
  };
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : placeholder(name)]));
}
