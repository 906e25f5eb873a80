import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http } from 'msw';
import { useLocation } from 'react-router';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { recordRequests, server } from '../../../testing/server';
import { RunHistory, runFiltersFrom } from './RunHistory';

function WithLocation() {
  const location = useLocation();
  return (
    <>
      <RunHistory selectedId={null} onSelect={() => {}} />
      <output data-testid="search">{location.search}</output>
    </>
  );
}

const runCalls = (calls: { path: string }[]) =>
  calls
    .filter((call) => call.path.startsWith('/api/v1/executions'))
    .map((call) => Object.fromEntries(new URL(call.path, 'http://x').searchParams));

describe('RunHistory filters in the address', () => {
  it('opens filtered by the status a link names, and keeps changes in the address', async () => {
    const calls = recordRequests();
    server.use(http.get('/api/v1/executions', () => HttpResponse.json({ items: [], nextCursor: null })));
    await renderWithApp(<WithLocation />, {
      path: '/automations',
      route: '/automations?status=failed&kind=any',
    });
    await waitFor(() => expect(runCalls(calls)).toEqual([{ limit: '25', status: 'failed' }]));
    expect((screen.getByLabelText('Status') as HTMLSelectElement).value).toBe('failed');
    expect((screen.getByLabelText('Kind') as HTMLSelectElement).value).toBe('');

    await userEvent.selectOptions(screen.getByLabelText('Kind'), 'agent');
    await waitFor(() =>
      expect(runCalls(calls).at(-1)).toEqual({ limit: '25', status: 'failed', kind: 'agent' }),
    );
    await userEvent.selectOptions(screen.getByLabelText('Status'), '');
    await waitFor(() => expect(screen.getByTestId('search').textContent).toBe('?kind=agent'));
  });

  it('reads script runs of any status from a bare address, and ignores unknown values', () => {
    expect(runFiltersFrom(new URLSearchParams(''))).toEqual({ status: '', kind: 'script' });
    expect(runFiltersFrom(new URLSearchParams('status=exploded&kind=any'))).toEqual({ status: '', kind: '' });
    expect(runFiltersFrom(new URLSearchParams('status=timed_out&kind=agent'))).toEqual({
      status: 'timed_out',
      kind: 'agent',
    });
  });
});
