import { type RefObject, useCallback, useEffect, useRef, useState } from 'react';

// Within this many pixels of the end counts as "at the end" (sub-pixel rounding, a last line).
const nearEndPx = 48;

/**
 * Keeps a scroll container at its end while its content grows (streaming text), as long as the
 * reader is there; once they scroll up it stays put and `following` turns false, so the view
 * can offer a "jump to latest".
 */
export function useFollowScroll(container: RefObject<HTMLElement | null>, ready: boolean) {
  const [following, setFollowing] = useState(true);
  const followingRef = useRef(true);

  const toEnd = useCallback(() => {
    const element = container.current;
    if (element) element.scrollTop = element.scrollHeight;
    followingRef.current = true;
    setFollowing(true);
  }, [container]);

  useEffect(() => {
    const element = container.current;
    if (!element || !ready) return;
    const onScroll = () => {
      const atEnd = element.scrollHeight - element.scrollTop - element.clientHeight <= nearEndPx;
      followingRef.current = atEnd;
      setFollowing(atEnd);
    };
    const onGrow = () => {
      if (followingRef.current) element.scrollTop = element.scrollHeight;
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    const observer = typeof MutationObserver === 'undefined' ? null : new MutationObserver(onGrow);
    observer?.observe(element, { childList: true, subtree: true, characterData: true });
    const resize = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(onGrow);
    resize?.observe(element);
    return () => {
      element.removeEventListener('scroll', onScroll);
      observer?.disconnect();
      resize?.disconnect();
    };
    // `ready`: the container exists only once the conversation has loaded.
  }, [container, ready]);

  return { following, toEnd };
}
