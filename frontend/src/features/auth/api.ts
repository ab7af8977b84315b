import { api, unwrap } from "../../lib/api/client";
import type { Token } from "../../lib/api/types";

export function login(username: string, password: string): Promise<Token> {
  return unwrap(api.POST("/api/auth/login", { body: { username, password } }));
}
