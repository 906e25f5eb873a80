import { describe, expect, it } from 'vitest';
import { startupNotices } from '../../src/cli/commands.js';
import { loadConfig } from '../../src/config/index.js';
import { chooseProvider } from '../../src/engine/index.js';

const bare = { DATA_DIR: '/tmp/ipa-notices' };

describe('standalone start-up notices', () => {
  it('says when no model is configured and how to configure one, without naming a worker', () => {
    const lines = startupNotices(loadConfig('standalone', bare), { isolation: 'bwrap' }).join('\n');
    expect(lines).toContain('model: none configured');
    expect(lines).toContain('ANTHROPIC_API_KEY');
    expect(lines).not.toMatch(/worker/i);
    const provider = chooseProvider(loadConfig('standalone', bare).model);
    expect('error' in provider && provider.error).not.toMatch(/worker/i);
  });

  it('says nothing about the model once a provider is configured', () => {
    const config = loadConfig('standalone', { ...bare, ANTHROPIC_API_KEY: 'k' });
    expect(startupNotices(config, { isolation: 'bwrap' })).toEqual([]);
  });

  it('explains process isolation and gives the one command that installs bubblewrap', () => {
    const config = loadConfig('standalone', { ...bare, ANTHROPIC_API_KEY: 'k' });
    const lines = startupNotices(config, {
      isolation: 'process',
      isolationReason: 'bubblewrap (bwrap) is not installed',
    }).join('\n');
    expect(lines).toContain("isolation level 'process' (bubblewrap (bwrap) is not installed)");
    expect(lines).toContain('trusted code');
    expect(lines).toContain('sudo apt-get install bubblewrap');
  });
});
