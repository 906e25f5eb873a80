import { describe, expect, it } from 'vitest';
import { platformCapabilities } from '../../src/api/capabilities.js';
import type { WorkerHeartbeat } from '../../src/queue/types.js';

const beat = (over: Partial<WorkerHeartbeat>): WorkerHeartbeat => ({
  workerId: 'w',
  hostname: 'h',
  pid: 1,
  startedAt: '',
  at: '',
  isolation: 'bwrap',
  concurrency: 1,
  running: 0,
  draining: false,
  pool: {},
  ...over,
});

describe('platformCapabilities', () => {
  it('assumes process level with no live worker', () => {
    expect(platformCapabilities([])).toEqual({
      isolation: 'process',
      languages: ['javascript', 'typescript'],
      sandboxUids: 'shared',
      modelConfigured: undefined,
      workersKnown: false,
    });
  });

  it('learns from the workers whether a model is configured (the API holds no model key)', () => {
    expect(platformCapabilities([beat({})]).modelConfigured).toBeUndefined();
    expect(platformCapabilities([beat({ modelConfigured: false })]).modelConfigured).toBe(false);
    expect(
      platformCapabilities([beat({ modelConfigured: false }), beat({ modelConfigured: true })])
        .modelConfigured,
    ).toBe(true);
    expect(
      platformCapabilities([beat({ modelConfigured: true, draining: true })]).modelConfigured,
    ).toBeUndefined();
  });

  it('says sandboxes share a uid unless every live worker gives each its own', () => {
    expect(platformCapabilities([beat({ separateUids: true })]).sandboxUids).toBe('separate');
    expect(platformCapabilities([beat({ separateUids: true }), beat({})]).sandboxUids).toBe('shared');
  });

  it('offers the weakest level among live workers, ignoring draining ones', () => {
    const caps = platformCapabilities([beat({}), beat({ isolation: 'process' })]);
    expect(caps.isolation).toBe('process');
    expect(caps.languages).toEqual(['javascript', 'typescript']);
    expect(platformCapabilities([beat({}), beat({ isolation: 'process', draining: true })]).isolation).toBe(
      'bwrap',
    );
  });

  it('offers only the languages every bwrap worker runs (no Python where it is not installed)', () => {
    const caps = platformCapabilities([
      beat({ languages: ['javascript', 'typescript', 'shell', 'python'] }),
      beat({ languages: ['javascript', 'typescript', 'shell'] }),
    ]);
    expect(caps).toMatchObject({ isolation: 'bwrap', languages: ['javascript', 'typescript', 'shell'] });
  });
});
