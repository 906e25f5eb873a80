import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Execution, type Message, type Page } from '../../../lib';

export const messagesQueryKey = (sessionId: string) => ['sessions', sessionId, 'messages'] as const;
export const sessionExecutionsQueryKey = (sessionId: string) =>
  ['sessions', sessionId, 'executions'] as const;

/** The whole conversation, oldest first (pages are followed to the end). */
export function useMessages(sessionId: string | undefined) {
  return useQuery({
    queryKey: messagesQueryKey(sessionId ?? ''),
    enabled: Boolean(sessionId),
    queryFn: async ({ signal }) => {
      const items: Message[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const result = await api<Page<Message>>(`/sessions/${encodeURIComponent(sessionId ?? '')}/messages`, {
          query: { limit: 200, cursor },
          signal,
        });
        items.push(...result.items);
        if (!result.nextCursor) break;
        cursor = result.nextCursor;
      }
      return items;
    },
  });
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
      queryClient.setQueryData<Message[]>(messagesQueryKey(sessionId), (old) => [...(old ?? []), message]);
      queryClient.setQueryData<Page<Execution>>(sessionExecutionsQueryKey(sessionId), (old) => ({
        items: [execution, ...(old?.items ?? [])],
        nextCursor: old?.nextCursor ?? null,
      }));
      void queryClient.invalidateQueries({ queryKey: ['sessions'], exact: true });
    },
  });
}

export function useCancelExecution() {
  return useMutation({
    mutationFn: (executionId: string) =>
      api<Execution>(`/executions/${encodeURIComponent(executionId)}/cancel`, { method: 'POST' }),
  });
}
