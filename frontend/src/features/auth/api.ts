import { queryOptions } from "@tanstack/react-query";
import { api, unwrap } from "../../lib/api/client";
import type { Token, User } from "../../lib/api/types";

export function login(username: string, password: string): Promise<Token> {
  return unwrap(api.POST("/api/auth/login", { body: { username, password } }));
}

export const meQueryOptions = () =>
  queryOptions({
    queryKey: ["auth", "me"] as const,
    queryFn: (): Promise<User> => unwrap(api.GET("/api/auth/me")),
    staleTime: 5 * 60_000,
  });
