import { type QueryKey, useInfiniteQuery } from '@tanstack/react-query';
import { api, type RequestOptions } from './api-client';
import type { Page } from './types';

/**
 * A cursor-paged list of the API (`?limit&cursor` → `{items, nextCursor}`), one page at a time;
 * `fetchNextPage` asks for the next one while `hasNextPage`.
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
  });
}
