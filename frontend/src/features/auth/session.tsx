// The signed-in session: the token and user in localStorage, login/logout, and what happens when the
// API says the session is over (401): the token is dropped and the person is sent to the login
// page with where they were, so they come back there (forms keep their drafts, see generate/draft).
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useNavigate, type Location } from "react-router-dom";
import { configureAuth } from "../../lib/api/client";
import type { User } from "../../lib/api/types";
import { readStored, writeStored } from "../../lib/storage";
import { login as loginRequest } from "./api";

export const SESSION_STORAGE_KEY = "wan.session";

type Stored = { token: string; user: User; expiresAt: number };

export type LoginState = { from?: Pick<Location, "pathname" | "search" | "hash">; expired?: boolean };

type Session = {
  user: User | null;
  token: string | null;
  /** The last session ended because the server said so (not by logging out). */
  expired: boolean;
  login: (username: string, password: string) => Promise<User>;
  logout: () => void;
};

const SessionContext = createContext<Session | null>(null);

function loadStored(): Stored | null {
  const raw = readStored(SESSION_STORAGE_KEY);
  if (!raw) return null;
  try {
    const parsed = JSON.parse(raw) as Stored;
    return typeof parsed.token === "string" && parsed.user ? parsed : null;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [stored, setStored] = useState<Stored | null>(loadStored);
  const [expired, setExpired] = useState(false);
  const storedRef = useRef(stored);
  storedRef.current = stored;
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  const save = useCallback((next: Stored | null) => {
    storedRef.current = next;
    setStored(next);
    writeStored(SESSION_STORAGE_KEY, next ? JSON.stringify(next) : null);
  }, []);

  // No navigation here: the page's <RequireAuth> sees the token gone and sends the person to log
  // in, saying the session expired and keeping where they were.
  const expire = useCallback(() => {
    if (!storedRef.current) return;
    setExpired(true);
    save(null);
  }, [save]);

  // Wired during render (idempotent), so the children's first requests already carry the token.
  configureAuth({ token: () => storedRef.current?.token ?? null, onUnauthorized: expire });

  // A token past its lifetime: treat it as an expired session as soon as the page notices.
  useEffect(() => {
    if (!stored) return;
    const left = stored.expiresAt - Date.now();
    const timer = window.setTimeout(expire, Math.max(0, Math.min(left, 2_147_000_000)));
    return () => window.clearTimeout(timer);
  }, [stored, expire]);

  const login = useCallback(
    async (username: string, password: string) => {
      const token = await loginRequest(username, password);
      queryClient.clear();
      setExpired(false);
      save({ token: token.access_token, user: token.user, expiresAt: Date.now() + token.expires_in * 1000 });
      return token.user;
    },
    [queryClient, save],
  );

  const logout = useCallback(() => {
    setExpired(false);
    save(null);
    queryClient.clear();
    navigate("/login", { replace: true });
  }, [navigate, queryClient, save]);

  const value = useMemo<Session>(
    () => ({ user: stored?.user ?? null, token: stored?.token ?? null, expired, login, logout }),
    [stored, expired, login, logout],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession must be used inside <SessionProvider>");
  return session;
}
