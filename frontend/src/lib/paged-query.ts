import { type InfiniteData, type QueryKey, useInfiniteQuery } from '@tanstack/react-query';
import { api, type RequestOptions } from './api-client';
import type { Page } from './types';

/** Every item of the pages loaded so far, in order. */
const allItems = <T>(data: InfiniteData<Page<T>>): T[] => data.pages.flatMap((page) => page.items);

/**
 * A cursor-paged list of the API (`?limit&cursor` → `{items, nextCursor}`), one page at a time;
 * `data` is every item loaded so far, and `fetchNextPage` asks for the next page while
 * `hasNextPage`.
 */
export function usePagedQuery<T>(
  queryKey: QueryKey,
  path: string,
  limit: number,
  filters: RequestOptions['query'] = {},
) {
  return useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam, signal }) =>
      api<Page<T>>(path, { query: { limit, cursor: pageParam, ...filters }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    select: allItems<T>,
  });
}
