/**
 * jsdom has no layout: CodeMirror measures text ranges when it scrolls the cursor into view.
 * Tests that move the cursor give ranges empty rectangles, as a hidden element would have.
 */
export function giveRangesRects(): void {
  const empty = () => ({
    x: 0,
    y: 0,
    width: 0,
    height: 0,
    top: 0,
    left: 0,
    right: 0,
    bottom: 0,
    toJSON() {},
  });
  const proto = Range.prototype as unknown as Record<string, unknown>;
  proto.getClientRects ??= () => Object.assign([], { item: () => null });
  proto.getBoundingClientRect ??= empty;
}
