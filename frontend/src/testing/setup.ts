import { afterEach, vi } from 'vitest';

// The end-to-end files run in node; only the jsdom tests have a DOM to clean.
if (typeof document !== 'undefined') {
  const { cleanup } = await import('@testing-library/react');
  afterEach(() => {
    cleanup();
    vi.unstubAllGlobals();
    sessionStorage.clear();
    localStorage.clear();
  });
}
