import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api, type Me, type User } from '../../../lib';

export const meQueryKey = ['me'] as const;

/** The signed-in user, quota and platform facts; `null` when nobody is signed in. */
export function useMe() {
  return useQuery({
    queryKey: meQueryKey,
    queryFn: async (): Promise<Me | null> => {
      try {
        return await api<Me>('/me');
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 30_000,
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
  });
}

export function useSignIn() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (token: string) => api<{ user: User }>('/auth/login', { method: 'POST', body: { token } }),
    onSuccess: async () => {
      // Another user's cached data must not show; the `me` entry itself is replaced in place so
      // the views watching it switch to the signed-in app.
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== meQueryKey[0] });
      queryClient.setQueryData(meQueryKey, await api<Me>('/me'));
    },
  });
}

export function useSignOut() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api<void>('/auth/logout', { method: 'POST' }),
    onSettled: () => {
      // Whatever the answer, nothing of this user's data may stay in the page.
      queryClient.setQueryData(meQueryKey, null);
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== meQueryKey[0] });
      try {
        for (const key of Object.keys(sessionStorage))
          if (key.startsWith('ipa.')) sessionStorage.removeItem(key);
      } catch {
        // Storage unavailable: nothing was kept there either.
      }
    },
  });
}
