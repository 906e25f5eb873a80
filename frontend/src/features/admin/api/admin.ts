import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ApiTokenInfo, type AuditEntry, api, type Page, type User } from '../../../lib';

export const usersQueryKey = ['admin', 'users'] as const;
export const tokensQueryKey = (userId: string) => ['admin', 'users', userId, 'tokens'] as const;
export const auditQueryKey = ['admin', 'audit'] as const;

export function useUsers() {
  return useInfiniteQuery({
    queryKey: usersQueryKey,
    queryFn: ({ pageParam, signal }) =>
      api<Page<User>>('/admin/users', { query: { limit: 50, cursor: pageParam }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; isAdmin: boolean }) =>
      api<{ user: User; token: string }>('/admin/users', { method: 'POST', body }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: usersQueryKey });
      void queryClient.invalidateQueries({ queryKey: auditQueryKey });
    },
  });
}

export function useTokens(userId: string) {
  return useQuery({
    queryKey: tokensQueryKey(userId),
    queryFn: ({ signal }) =>
      api<{ items: ApiTokenInfo[] }>(`/admin/users/${encodeURIComponent(userId)}/tokens`, { signal }),
  });
}

export function useIssueToken(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (name: string) =>
      api<{ token: string; info: ApiTokenInfo }>(`/admin/users/${encodeURIComponent(userId)}/tokens`, {
        method: 'POST',
        body: { name },
      }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: tokensQueryKey(userId) });
      void queryClient.invalidateQueries({ queryKey: auditQueryKey });
    },
  });
}

export function useRevokeToken(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: string) =>
      api<void>(`/admin/users/${encodeURIComponent(userId)}/tokens/${encodeURIComponent(tokenId)}`, {
        method: 'DELETE',
      }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: tokensQueryKey(userId) });
      void queryClient.invalidateQueries({ queryKey: auditQueryKey });
    },
  });
}

/** The audit log, newest first; a page of 25 at a time. */
export function useAuditLog() {
  return useInfiniteQuery({
    queryKey: auditQueryKey,
    queryFn: ({ pageParam, signal }) =>
      api<Page<AuditEntry>>('/admin/audit', { query: { limit: 25, cursor: pageParam }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
}
