import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Component and unit tests run in jsdom. The end-to-end tests (`e2e/*.e2e.test.ts`) drive
// headless Chromium against a real standalone backend; each of those files opts into the node
// environment with a `@vitest-environment node` docblock, and sets its own timeouts.
export default defineConfig({
  plugins: [react()],
  test: {
    name: 'frontend',
    root: import.meta.dirname,
    include: ['src/**/*.test.{ts,tsx}', 'e2e/**/*.e2e.test.ts'],
    environment: 'jsdom',
    setupFiles: ['src/testing/setup.ts'],
    // The browser tests start real backends: their Redis keys and databases go at the end, and a
    // temporary entry left behind fails the run.
    globalSetup: ['../backend/test/support/run-leftovers.ts'],
    testTimeout: 15_000,
  },
});
