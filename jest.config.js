const { availableParallelism } = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  // Two test files at once even on 2 cores (jest's default there is one): the longest suites
  // mostly wait on timers and paced receivers (the rate-limit suite, ~200 s, sends 5/s), so a
  // second worker halves the run (920 s → 479 s on the 2-core CI machine, 2026-12-04).
  maxWorkers: Math.max(2, availableParallelism() - 1),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(ts|js|mjs)$': '<rootDir>/jest-esbuild-transform.js' },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  setupFiles: ['<rootDir>/test/support/test-env.ts'],
  testTimeout: 60000,
};
