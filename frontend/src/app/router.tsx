import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { createBrowserRouter, Navigate } from 'react-router';
import { EmptyState, ErrorState, LoadingState } from '../components/ui';
import { SignInPage, useMe } from '../features/auth';
import { ChatPage } from '../features/chat';
import { AppShell } from './AppShell';
import { LazyPage, pageLoader, RouteError } from './lazy-page';

// The chat view is the landing route and ships in the entry bundle; the editor (CodeMirror), the
// charts (uPlot) and the other views load on first visit.
const automationsPage = pageLoader(() => import('../features/automations').then((m) => m.AutomationsPage));
const automationDetailPage = pageLoader(() =>
  import('../features/automations').then((m) => m.AutomationDetailPage),
);
const secretsPage = pageLoader(() => import('../features/egress').then((m) => m.SecretsPage));
const filesPage = pageLoader(() => import('../features/files/page').then((m) => m.FilesPage));
const opsPage = pageLoader(() => import('../features/ops').then((m) => m.OpsPage));
const adminPage = pageLoader(() => import('../features/admin').then((m) => m.AdminPage));

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
      errorElement: <RouteError />,
      // A page that throws shows the app's error inside the shell (the pathless route below
      // renders in the shell's outlet), never the router's developer page.
      children: [
        {
          errorElement: <RouteError />,
          children: [
            { index: true, element: <Navigate to="/chat" replace /> },
            { path: 'chat', element: <ChatPage /> },
            { path: 'chat/:sessionId', element: <ChatPage /> },
            { path: 'automations', element: <LazyPage loader={automationsPage} /> },
            { path: 'automations/:automationId', element: <LazyPage loader={automationDetailPage} /> },
            { path: 'files', element: <LazyPage loader={filesPage} /> },
            { path: 'secrets', element: <LazyPage loader={secretsPage} /> },
            {
              path: 'ops',
              element: (
                <RequireAdmin>
                  <LazyPage loader={opsPage} />
                </RequireAdmin>
              ),
            },
            {
              path: 'admin',
              element: (
                <RequireAdmin>
                  <LazyPage loader={adminPage} />
                </RequireAdmin>
              ),
            },
            { path: '*', element: <NotFound /> },
          ],
        },
      ],
    },
  ]);
}
