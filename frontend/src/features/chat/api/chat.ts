import {
  type InfiniteData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { useEffect } from 'react';
import { api, type Execution, type Message, type Page } from '../../../lib';
import { sessionsQueryKey } from '../../sessions';

export const messagesQueryKey = (sessionId: string) => ['sessions', sessionId, 'messages'] as const;
export const sessionExecutionsQueryKey = (sessionId: string) =>
  ['sessions', sessionId, 'executions'] as const;

type MessagePages = InfiniteData<Page<Message>, string | undefined>;

const allMessages = (data: MessagePages): Message[] => data.pages.flatMap((page) => page.items);

/** The whole conversation, oldest first: pages are followed to the end, one after another. */
export function useMessages(sessionId: string | undefined) {
  const query = useInfiniteQuery({
    queryKey: messagesQueryKey(sessionId ?? ''),
    enabled: Boolean(sessionId),
    queryFn: ({ pageParam, signal }) =>
      api<Page<Message>>(`/sessions/${encodeURIComponent(sessionId ?? '')}/messages`, {
        query: { limit: 200, cursor: pageParam },
        signal,
      }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    select: allMessages,
  });
  const { hasNextPage, isFetchingNextPage, isError, fetchNextPage } = query;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && !isError) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, isError, fetchNextPage]);
  return query;
}

/** The session's agent turns, for their usage and to find one still running after a reload. */
export function useSessionExecutions(sessionId: string | undefined) {
  return useQuery({
    queryKey: sessionExecutionsQueryKey(sessionId ?? ''),
    enabled: Boolean(sessionId),
    queryFn: ({ signal }) =>
      api<Page<Execution>>('/executions', { query: { sessionId, kind: 'agent', limit: 100 }, signal }),
  });
}

export function useSendMessage(sessionId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (text: string) =>
      api<{ message: Message; execution: Execution }>(`/sessions/${encodeURIComponent(sessionId)}/messages`, {
        method: 'POST',
        body: { text },
      }),
    onSuccess: ({ message, execution }) => {
      queryClient.setQueryData<MessagePages>(messagesQueryKey(sessionId), (old) => {
        const pages = old?.pages ?? [{ items: [], nextCursor: null }];
        const last = pages.at(-1) ?? { items: [], nextCursor: null };
        return {
          pages: [...pages.slice(0, -1), { ...last, items: [...last.items, message] }],
          pageParams: old?.pageParams ?? [undefined],
        };
      });
      queryClient.setQueryData<Page<Execution>>(sessionExecutionsQueryKey(sessionId), (old) => ({
        items: [execution, ...(old?.items ?? [])],
        nextCursor: old?.nextCursor ?? null,
      }));
      void queryClient.invalidateQueries({ queryKey: sessionsQueryKey, exact: true });
    },
  });
}

export function useCancelExecution() {
  return useMutation({
    mutationFn: (executionId: string) =>
      api<Execution>(`/executions/${encodeURIComponent(executionId)}/cancel`, { method: 'POST' }),
  });
}
