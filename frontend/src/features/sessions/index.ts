export {
  sessionQueryKey,
  sessionsQueryKey,
  useCreateSession,
  useDeleteSession,
  useRenameSession,
  useSession,
  useSessions,
} from './api/sessions';
export { SessionList } from './components/SessionList';
