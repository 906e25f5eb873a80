export {
  messagesQueryKey,
  sessionExecutionsQueryKey,
  useCancelExecution,
  useMessages,
  useSendMessage,
  useSessionExecutions,
} from './api/chat';
export { ChatPage } from './components/ChatPage';
export { ChatView } from './components/ChatView';
export { ToolCard } from './components/ToolCard';
