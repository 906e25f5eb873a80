import { defineConfig } from 'vitest/config';

// One runner for the whole repository; each part is a project so it can be run alone
// (`vitest run --project backend`). Backend tests share one PostgreSQL and one Redis, so every
// test file makes its own database and key prefix (backend/test/support/services.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'backend',
          root: 'backend',
          include: ['test/**/*.test.ts'],
          exclude: ['test/reliability/**'],
          // Removes the run's Redis keys and databases; fails on a temporary entry left behind.
          globalSetup: ['test/support/run-leftovers.ts'],
          // The AWS SDK's notice that its releases after January 2027 need Node 22 (the locked
          // one runs on Node 20, the images run Node 24): nothing a test run can act on.
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
      'frontend/vitest.config.ts',
      {
        test: {
          name: 'chart',
          root: 'helm',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/support/values-dir.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
