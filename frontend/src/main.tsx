import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { createI18n } from './i18n';
import { applyTheme, THEME_STORAGE_KEY } from './lib';
import './styles.css';

// Before the first render, so a dark-theme user never sees a light flash.
applyTheme((localStorage.getItem(THEME_STORAGE_KEY) as 'light' | 'dark' | null) ?? 'system');

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App i18n={createI18n()} />
  </StrictMode>,
);
