import { describe, expect, it } from 'vitest';
import { darkBackgrounds, darkPalette, lightBackgrounds, lightPalette } from './editor-theme';

/** WCAG 2 relative luminance of a #rrggbb or #rgb colour. */
function luminance(hex: string): number {
  const digits = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join('') : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const channel = Number.parseInt(digits.slice(i, i + 2), 16) / 255;
    return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (high + 0.05) / (low + 0.05);
}

describe('editor token colours', () => {
  it('computes contrast as WCAG does', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21);
    expect(contrast('#7d8799', '#282c34')).toBeLessThan(4.5); // One Dark's own comment colour
  });

  for (const [theme, palette, backgrounds] of [
    ['light', lightPalette, lightBackgrounds],
    ['dark', darkPalette, darkBackgrounds],
  ] as const) {
    it(`keeps every ${theme} token at 4.5:1 or more on the editor and its active line`, () => {
      const failing = Object.entries(palette).flatMap(([name, color]) =>
        backgrounds
          .filter((background) => contrast(color, background) < 4.5)
          .map(
            (background) => `${name} ${color} on ${background}: ${contrast(color, background).toFixed(2)}`,
          ),
      );
      expect(failing).toEqual([]);
    });
  }
});
