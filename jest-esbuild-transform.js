// Jest transform: TypeScript and ESM-only dependencies (@middy/core) to CommonJS with esbuild.
// Type checking is `tsc --noEmit` (npm run lint), so tests only need the transpile.
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const loader = filename.endsWith('.ts') ? 'ts' : 'js';
    const { code, map } = transformSync(source, {
      loader,
      format: 'cjs',
      target: 'node22',
      sourcemap: 'both',
      sourcefile: filename,
      supported: { 'dynamic-import': false },
    });
    return { code, map };
  },
};
