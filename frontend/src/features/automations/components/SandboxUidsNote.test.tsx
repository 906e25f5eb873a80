import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../../../testing/render';
import { SandboxUidsNote } from './SandboxUidsNote';

describe('SandboxUidsNote', () => {
  it('says plainly what a shared uid allows at each level', async () => {
    const { unmount } = await renderWithApp(<SandboxUidsNote isolation="process" sandboxUids="shared" />);
    expect(screen.getByTestId('sandbox-uids').textContent).toMatch(/can signal or slow down other users/);
    unmount();
    const bwrap = await renderWithApp(<SandboxUidsNote isolation="bwrap" sandboxUids="shared" />);
    expect(screen.getByTestId('sandbox-uids').textContent).toMatch(/own process namespace/);
    bwrap.unmount();
    await renderWithApp(<SandboxUidsNote isolation="process" sandboxUids="separate" />, {
      language: 'zh-TW',
    });
    expect(screen.getByTestId('sandbox-uids').textContent).toMatch(/自己的使用者 ID/);
  });

  it('says nothing when the API does not tell', async () => {
    await renderWithApp(<SandboxUidsNote isolation="process" sandboxUids={undefined} />);
    expect(screen.queryByTestId('sandbox-uids')).toBeNull();
  });
});
