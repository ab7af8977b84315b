import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { BrowserRouter, MemoryRouter, Navigate, Route, Routes } from "react-router-dom";
import { LoginPage } from "../features/auth/LoginPage";
import { RequireAuth } from "../features/auth/RequireAuth";
import { SessionProvider } from "../features/auth/session";
import { GeneratePage } from "../features/generate/GeneratePage";
import { HomePage } from "../features/jobs/HomePage";
import { JobPage } from "../features/jobs/JobPage";
import { I18nProvider, type Locale } from "../lib/i18n";
import { makeQueryClient } from "../lib/query";
import { Layout } from "./Layout";

export function AppRoutes() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/" element={<RequireAuth><HomePage /></RequireAuth>} />
        <Route path="/generate" element={<RequireAuth><GeneratePage /></RequireAuth>} />
        <Route path="/jobs/:id" element={<RequireAuth><JobPage /></RequireAuth>} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}

type Props = {
  /** Tests pass their own client, a start URL (MemoryRouter) and a locale. */
  queryClient?: QueryClient;
  initialEntries?: string[];
  locale?: Locale;
};

export function App({ queryClient, initialEntries, locale }: Props) {
  const [client] = useState(() => queryClient ?? makeQueryClient());
  const inner = (
    <SessionProvider>
      <AppRoutes />
    </SessionProvider>
  );
  return (
    <QueryClientProvider client={client}>
      <I18nProvider initial={locale}>
        {initialEntries ? <MemoryRouter initialEntries={initialEntries}>{inner}</MemoryRouter> : <BrowserRouter>{inner}</BrowserRouter>}
      </I18nProvider>
    </QueryClientProvider>
  );
}
