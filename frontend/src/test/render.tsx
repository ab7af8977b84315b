import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes } from "react-router-dom";
import { SessionProvider } from "../features/auth/session";
import { I18nProvider, type Locale } from "../lib/i18n";

export function testQueryClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 0 }, mutations: { retry: false } } });
}

/** Renders an element inside the app's providers at `path`, matched by `route`. */
export function renderWithProviders(
  element: ReactElement,
  { path = "/", route = "*", locale = "en" as Locale, extraRoutes = {} as Record<string, ReactElement> } = {},
) {
  const client = testQueryClient();
  const utils = render(
    <QueryClientProvider client={client}>
      <I18nProvider initial={locale}>
        <MemoryRouter initialEntries={[path]}>
          <SessionProvider>
            <Routes>
              <Route path={route} element={element} />
              {Object.entries(extraRoutes).map(([p, e]) => (
                <Route key={p} path={p} element={e} />
              ))}
            </Routes>
          </SessionProvider>
        </MemoryRouter>
      </I18nProvider>
    </QueryClientProvider>,
  );
  return { ...utils, client };
}
