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
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties: { MemorySize?: number; Architectures?: string[] } }>;
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
          env: { ...process.env, AWS_LAMBDA_FUNCTION_NAME: 'bench', TABLE_NAME: 't', DELIVERY_QUEUE_URL: 'q', FAN_OUT_QUEUE_URL: 'q', JWT_SECRET: 's', POWERTOOLS_TRACE_ENABLED: 'false' },
          encoding: 'utf8',
        });
        return Number(run.stdout.trim().split('\n').pop());
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

