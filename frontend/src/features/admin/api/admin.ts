import { type QueryClient, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ApiTokenInfo, type AuditEntry, api, type User, usePagedQuery } from '../../../lib';

export const usersQueryKey = ['admin', 'users'] as const;
export const tokensQueryKey = (userId: string) => ['admin', 'users', userId, 'tokens'] as const;
export const auditQueryKey = ['admin', 'audit'] as const;

export function useUsers() {
  return usePagedQuery<User>(usersQueryKey, '/admin/users', 50);
}

/** Every admin change is audited: the changed list and the audit log are both refetched. */
function refetchAfterChange(queryClient: QueryClient, changed: readonly unknown[]) {
  void queryClient.invalidateQueries({ queryKey: changed });
  void queryClient.invalidateQueries({ queryKey: auditQueryKey });
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; isAdmin: boolean }) =>
      api<{ user: User; token: string }>('/admin/users', { method: 'POST', body }),
    onSuccess: () => refetchAfterChange(queryClient, usersQueryKey),
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
    onSuccess: () => refetchAfterChange(queryClient, tokensQueryKey(userId)),
  });
}

export function useRevokeToken(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: string) =>
      api<void>(`/admin/users/${encodeURIComponent(userId)}/tokens/${encodeURIComponent(tokenId)}`, {
        method: 'DELETE',
      }),
    onSuccess: () => refetchAfterChange(queryClient, tokensQueryKey(userId)),
  });
}

export const signInsQueryKey = (userId: string) => ['admin', 'users', userId, 'signins'] as const;

export function useSignIns(userId: string) {
  return useQuery({
    queryKey: signInsQueryKey(userId),
    queryFn: ({ signal }) =>
      api<{ items: ApiTokenInfo[] }>(`/admin/users/${encodeURIComponent(userId)}/signins`, { signal }),
  });
}

/** Ends one browser sign-in (its session token is revoked like any token). */
export function useRevokeSignIn(userId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tokenId: string) =>
      api<void>(`/admin/users/${encodeURIComponent(userId)}/tokens/${encodeURIComponent(tokenId)}`, {
        method: 'DELETE',
      }),
    onSuccess: () => refetchAfterChange(queryClient, signInsQueryKey(userId)),
  });
}

/** Filters of the audit log, as the API takes them (times in ISO 8601). */
export interface AuditFilter {
  actorId?: string;
  /** One action (`user.create`) or a family (`token.`). */
  action?: string;
  from?: string;
  to?: string;
}

/** The audit log, newest first; a page of 25 at a time, narrowed by `filter`. */
export function useAuditLog(filter: AuditFilter = {}) {
  return usePagedQuery<AuditEntry>([...auditQueryKey, filter], '/admin/audit', 25, { ...filter });
}
