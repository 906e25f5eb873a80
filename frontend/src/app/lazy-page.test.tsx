import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ReactElement } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { renderWithApp } from '../testing/render';
import { LazyPage, pageLoader } from './lazy-page';

describe('LazyPage', () => {
  it('shows a retry inside the app when the page fails to load, and loads it on retry', async () => {
    const load = vi
      .fn<() => Promise<() => ReactElement>>()
      .mockRejectedValueOnce(new TypeError('Failed to fetch dynamically imported module'))
      .mockResolvedValue(() => <p>Files page</p>);
    await renderWithApp(<LazyPage loader={pageLoader(load)} />);
    expect((await screen.findByRole('alert')).textContent).toContain('This page could not be loaded');
    await userEvent.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByText('Files page')).toBeTruthy();
    expect(load).toHaveBeenCalledTimes(2);
  });
});
