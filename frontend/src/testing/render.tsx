import { QueryClient } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import i18next from 'i18next';
import type { ReactElement } from 'react';
import { initReactI18next } from 'react-i18next';
import { MemoryRouter, Route, Routes } from 'react-router';
import { AppProviders } from '../app/providers';
import en from '../i18n/en.json';
import zhTW from '../i18n/zh-TW.json';

export async function testI18n(language: 'en' | 'zh-TW' = 'en') {
  const instance = i18next.createInstance();
  await instance.use(initReactI18next).init({
    lng: language,
    resources: { en: { translation: en }, 'zh-TW': { translation: zhTW } },
    fallbackLng: 'en',
    showSupportNotice: false,
    interpolation: { escapeValue: false },
  });
  return instance;
}

export async function renderWithApp(
  element: ReactElement,
  { path = '/', route = '/', language = 'en' as 'en' | 'zh-TW' } = {},
) {
  const i18n = await testI18n(language);
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return {
    queryClient,
    ...render(
      <AppProviders i18n={i18n} queryClient={queryClient}>
        <MemoryRouter initialEntries={[route]}>
          <Routes>
            <Route path={path} element={element} />
          </Routes>
        </MemoryRouter>
      </AppProviders>,
    ),
  };
}
