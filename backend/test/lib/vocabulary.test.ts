import { describe, expect, it } from 'vitest';
import { isUuid, userFolders } from '../../src/lib/vocabulary.js';
import { topLevelFolders as runtimeFolders } from '../../src/sandbox/runtime/paths.mjs';

describe('shared vocabulary', () => {
  it("the sandbox runtime's copy of the user folders equals the one definition", () => {
    expect(runtimeFolders).toEqual([...userFolders]);
  });

  it('isUuid accepts canonical UUIDs only', () => {
    expect(isUuid('0b8f2a3c-1d4e-4f5a-8b9c-0d1e2f3a4b5c')).toBe(true);
    expect(isUuid('0B8F2A3C-1D4E-4F5A-8B9C-0D1E2F3A4B5C')).toBe(true);
    for (const bad of ['', '../etc', '0b8f2a3c1d4e4f5a8b9c0d1e2f3a4b5c', 42, null, undefined]) {
      expect(isUuid(bad)).toBe(false);
    }
  });
});
