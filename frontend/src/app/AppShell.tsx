import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink, Outlet, useLocation } from 'react-router';
import { Button } from '../components/ui';
import { useMe, useSignOut } from '../features/auth';
import { PreferenceControls } from './PreferenceControls';

export function AppShell() {
  const { t } = useTranslation();
  const me = useMe();
  const signOut = useSignOut();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  // Close the narrow-screen menu after navigating.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation on purpose
  useEffect(() => setMenuOpen(false), [location.pathname]);
  const user = me.data?.user;
  const mainRef = useRef<HTMLElement>(null);
  // After signing in (the form is gone) and after navigating, focus would be left on <body>:
  // it goes to the page's main region instead, unless the page has put it somewhere already.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each navigation on purpose
  useEffect(() => {
    if (!document.activeElement || document.activeElement === document.body) mainRef.current?.focus();
  }, [location.pathname]);
  const links = [
    { to: '/chat', label: t('nav.chat') },
    { to: '/automations', label: t('nav.automations') },
    { to: '/files', label: t('nav.files') },
    { to: '/secrets', label: t('nav.secrets') },
    ...(user?.isAdmin
      ? [
          { to: '/ops', label: t('nav.ops') },
          { to: '/admin', label: t('nav.admin') },
        ]
      : []),
  ];
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        {t('nav.skip')}
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>{t('app.name')}</span>
        </div>
        <button
          type="button"
          className="btn btn-ghost menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="primary-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          {t('nav.menu')}
        </button>
        <nav id="primary-nav" aria-label={t('nav.primary')} className={menuOpen ? 'nav nav-open' : 'nav'}>
          {links.map((link) => (
            <NavLink key={link.to} to={link.to} className="nav-link">
              {link.label}
            </NavLink>
          ))}
        </nav>
        <div className={menuOpen ? 'topbar-end topbar-end-open' : 'topbar-end'}>
          <PreferenceControls />
          {user ? (
            <span className="user-chip" title={user.name}>
              <span className="sr-only">{t('nav.signedInAs')} </span>
              {user.name}
            </span>
          ) : null}
          <Button size="sm" variant="ghost" onClick={() => signOut.mutate()} busy={signOut.isPending}>
            {t('auth.signOut')}
          </Button>
        </div>
      </header>
      {user?.isAdmin && me.data?.platform.isolation === 'process' ? <IsolationNotice /> : null}
      <main id="main" className="main" tabIndex={-1} ref={mainRef}>
        <Outlet />
      </main>
    </div>
  );
}

const isolationNoticeKey = 'ipa.isolationNoticeDismissed';

/** Tells an administrator that scripts are not fully isolated here, and how to fix that. */
function IsolationNotice() {
  const { t } = useTranslation();
  const [dismissed, setDismissed] = useState(() => {
    try {
      return localStorage.getItem(isolationNoticeKey) === '1';
    } catch {
      return false;
    }
  });
  if (dismissed) return null;
  return (
    <div className="notice notice-warning shell-notice" role="note">
      <p>
        {t('platform.processIsolation')} <code className="mono">sudo apt-get install bubblewrap</code>
      </p>
      <Button
        size="sm"
        variant="ghost"
        onClick={() => {
          setDismissed(true);
          try {
            localStorage.setItem(isolationNoticeKey, '1');
          } catch {
            // Not remembered: it shows again next time.
          }
        }}
      >
        {t('common.dismiss')}
      </Button>
    </div>
  );
}
