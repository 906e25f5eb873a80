import { describe, expect, it } from 'vitest';
import { settings } from '../../src/config/index.js';

// The README's table shows `shownDefault`; the process uses the zod schema's default. A setting
// whose schema has a default must show that value first (a note may follow it), so they cannot drift.
describe('configuration table defaults', () => {
  const withDefault = Object.entries(settings).flatMap(([name, setting]) => {
    const parsed = setting.schema.safeParse(undefined);
    return parsed.success && parsed.data !== undefined && parsed.data !== ''
      ? [[name, setting, parsed.data] as const]
      : [];
  });

  it('covers the settings that have defaults', () => {
    expect(withDefault.length).toBeGreaterThan(20);
  });

  it.each(withDefault)('%s shows the default the schema applies', (_name, setting, value) => {
    const shown = setting.shownDefault.split(' (')[0] as string;
    // A setting parsed into a structure (a range, a list) shows the text that parses to its default.
    if (typeof value === 'object') expect(setting.schema.parse(shown)).toEqual(value);
    else expect(shown).toBe(String(value));
  });
});
