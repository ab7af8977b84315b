import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router-dom";
import { useSession, type LoginState } from "./session";

/** Renders its children for a signed-in person; otherwise sends them to log in and back here. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { token, expired } = useSession();
  const location = useLocation();
  if (!token) {
    const state: LoginState = { from: { pathname: location.pathname, search: location.search, hash: location.hash }, expired };
    return <Navigate to="/login" replace state={state} />;
  }
  return <>{children}</>;
}
