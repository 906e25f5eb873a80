import { lazy, type ReactNode, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { createBrowserRouter, Navigate } from 'react-router';
import { EmptyState, ErrorState, LoadingState } from '../components/ui';
import { SignInPage, useMe } from '../features/auth';
import { ChatPage } from '../features/chat';
import { AppShell } from './AppShell';

// The chat view is the landing route and ships in the entry bundle; the editor (CodeMirror), the
// charts (uPlot) and the other views load on first visit.
const AutomationsPage = lazy(() =>
  import('../features/automations').then((m) => ({ default: m.AutomationsPage })),
);
const AutomationDetailPage = lazy(() =>
  import('../features/automations').then((m) => ({ default: m.AutomationDetailPage })),
);
const FilesPage = lazy(() => import('../features/files').then((m) => ({ default: m.FilesPage })));
const SecretsPage = lazy(() => import('../features/egress').then((m) => ({ default: m.SecretsPage })));
const OpsPage = lazy(() => import('../features/ops').then((m) => ({ default: m.OpsPage })));
const AdminPage = lazy(() => import('../features/admin').then((m) => ({ default: m.AdminPage })));

function Lazy({ children }: { children: ReactNode }) {
  return <Suspense fallback={<LoadingState />}>{children}</Suspense>;
}

function RequireSignIn() {
  const me = useMe();
  if (me.isPending) return <LoadingState />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  if (!me.data) return <SignInPage />;
  return <AppShell />;
}

function RequireAdmin({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const me = useMe();
  if (!me.data?.user.isAdmin) return <EmptyState title={t('common.adminOnly')} />;
  return <>{children}</>;
}

function NotFound() {
  const { t } = useTranslation();
  return <EmptyState title={t('common.notFound')} />;
}

export function createRouter() {
  return createBrowserRouter([
    {
      element: <RequireSignIn />,
      children: [
        { index: true, element: <Navigate to="/chat" replace /> },
        { path: 'chat', element: <ChatPage /> },
        { path: 'chat/:sessionId', element: <ChatPage /> },
        {
          path: 'automations',
          element: (
            <Lazy>
              <AutomationsPage />
            </Lazy>
          ),
        },
        {
          path: 'automations/:automationId',
          element: (
            <Lazy>
              <AutomationDetailPage />
            </Lazy>
          ),
        },
        {
          path: 'files',
          element: (
            <Lazy>
              <FilesPage />
            </Lazy>
          ),
        },
        {
          path: 'secrets',
          element: (
            <Lazy>
              <SecretsPage />
            </Lazy>
          ),
        },
        {
          path: 'ops',
          element: (
            <RequireAdmin>
              <Lazy>
                <OpsPage />
              </Lazy>
            </RequireAdmin>
          ),
        },
        {
          path: 'admin',
          element: (
            <RequireAdmin>
              <Lazy>
                <AdminPage />
              </Lazy>
            </RequireAdmin>
          ),
        },
        { path: '*', element: <NotFound /> },
      ],
    },
  ]);
}
