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
    testTimeout: 15_000,
  },
});
