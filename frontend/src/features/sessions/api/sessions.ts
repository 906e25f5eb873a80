import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Session, usePagedQuery } from '../../../lib';

export const sessionsQueryKey = ['sessions'] as const;
export const sessionQueryKey = (id: string) => ['sessions', 'one', id] as const;

/** Search results live under their own key; the plain list keeps `['sessions']` (refreshed exactly). */
export const sessionSearchQueryKey = (q: string) => ['sessions', 'search', q] as const;

/** Your sessions, newest first; with `q`, those whose title or messages contain it. */
export function useSessions(q = '') {
  const query = q.trim();
  return usePagedQuery<Session>(
    query ? sessionSearchQueryKey(query) : sessionsQueryKey,
    '/sessions',
    50,
    query ? { q: query } : {},
  );
}

export function useSession(id: string | undefined) {
  return useQuery({
    queryKey: sessionQueryKey(id ?? ''),
    queryFn: () => api<Session>(`/sessions/${encodeURIComponent(id ?? '')}`),
    enabled: Boolean(id),
  });
}

export function useCreateSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (title?: string) =>
      api<Session>('/sessions', { method: 'POST', body: title ? { title } : {} }),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: sessionsQueryKey }),
  });
}

export function useRenameSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, title }: { id: string; title: string }) =>
      api<Session>(`/sessions/${encodeURIComponent(id)}`, { method: 'PATCH', body: { title } }),
    onSuccess: (session) => {
      queryClient.setQueryData(sessionQueryKey(session.id), session);
      return queryClient.invalidateQueries({ queryKey: sessionsQueryKey });
    },
  });
}

export function useDeleteSession() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api<void>(`/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: (_result, id) => {
      queryClient.removeQueries({ queryKey: sessionQueryKey(id) });
      return queryClient.invalidateQueries({ queryKey: sessionsQueryKey });
    },
  });
}
