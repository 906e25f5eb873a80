export {
  tokensQueryKey,
  useCreateUser,
  useIssueToken,
  useRevokeToken,
  usersQueryKey,
  useTokens,
  useUsers,
} from './api/admin';
export { AdminPage } from './components/AdminPage';
