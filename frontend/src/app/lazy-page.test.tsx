import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { type ReactElement, useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { renderWithApp } from '../testing/render';
import { LazyPage, pageLoader } from './lazy-page';

const list = pageLoader(async () => () => <p>List page</p>);
const detail = pageLoader(async () => () => <p>Detail page</p>);

/** A list and its detail route render at the same place in the outlet: same element type. */
function Outlet() {
  const [loader, setLoader] = useState(list);
  return (
    <>
      <button type="button" onClick={() => setLoader(detail)}>
        open
      </button>
      <LazyPage loader={loader} />
    </>
  );
}

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

  it('shows the page of the loader it is given when another page was loaded in its place', async () => {
    await renderWithApp(<Outlet />);
    expect(await screen.findByText('List page')).toBeTruthy();
    await userEvent.click(screen.getByRole('button', { name: 'open' }));
    expect(await screen.findByText('Detail page')).toBeTruthy();
    expect(screen.queryByText('List page')).toBeNull();
  });
});
