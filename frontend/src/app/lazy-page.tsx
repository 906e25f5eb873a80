import { type ComponentType, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useRouteError } from 'react-router';
import { Button, LoadingState } from '../components/ui';

/** A page's module loader; the loaded component is kept for every later visit. */
export interface PageLoader {
  readonly id: number;
  load: () => Promise<ComponentType>;
  loaded: ComponentType | null;
}

let loaders = 0;

export function pageLoader(load: () => Promise<ComponentType>): PageLoader {
  loaders += 1;
  return { id: loaders, load, loaded: null };
}

/**
 * A route's page loaded on first visit. Unlike `React.lazy`, a failed load (backend or network
 * down) is not remembered: the page shows a retry inside the shell and the next attempt imports
 * again.
 */
export function LazyPage({ loader }: { loader: PageLoader }) {
  // Two routes at the same place in the outlet (a list and its detail page) would otherwise share
  // one instance, and with it the page the first of them loaded.
  return <LoadedPage key={loader.id} loader={loader} />;
}

function LoadedPage({ loader }: { loader: PageLoader }) {
  const [state, setState] = useState<{ page: ComponentType | null; error: unknown }>({
    page: loader.loaded,
    error: null,
  });
  const [attempt, setAttempt] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `attempt` re-runs the load on retry
  useEffect(() => {
    if (state.page) return;
    let live = true;
    loader.load().then(
      (page) => {
        loader.loaded = page;
        if (live) setState({ page, error: null });
      },
      (error: unknown) => {
        if (live) setState({ page: null, error });
      },
    );
    return () => {
      live = false;
    };
  }, [attempt, loader]);
  if (state.page) return <state.page />;
  if (state.error)
    return (
      <LoadFailed
        onRetry={() => {
          setState({ page: null, error: null });
          setAttempt((n) => n + 1);
        }}
      />
    );
  return <LoadingState />;
}

function LoadFailed({ onRetry }: { onRetry: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="state state-error" role="alert">
      <h1 className="state-title">{t('errors.pageLoadTitle')}</h1>
      <p className="state-body">{t('errors.pageLoadBody')}</p>
      <div className="state-actions">
        <Button size="sm" variant="primary" onClick={onRetry}>
          {t('common.retry')}
        </Button>
        <Button size="sm" variant="ghost" onClick={() => window.location.reload()}>
          {t('errors.reload')}
        </Button>
      </div>
    </div>
  );
}

/** What a route shows when its page throws while rendering: the app's own error, not the router's. */
export function RouteError() {
  const { t } = useTranslation();
  const error = useRouteError();
  // The details go to the console for whoever debugs; the person sees what to do.
  useEffect(() => console.error(error), [error]);
  return (
    <div className="state state-error" role="alert">
      <h1 className="state-title">{t('errors.pageTitle')}</h1>
      <p className="state-body">{t('errors.pageBody')}</p>
      <Button size="sm" variant="primary" onClick={() => window.location.reload()}>
        {t('errors.reload')}
      </Button>
    </div>
  );
}
