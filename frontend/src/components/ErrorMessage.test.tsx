import { ApiError, toApiError } from "../lib/api/client";
import { makeI18n } from "../lib/i18n";
import { describeError } from "./ErrorMessage";

describe("errors", () => {
  it("reads the API's error body, and tolerates others", () => {
    const error = toApiError(422, { error: { code: "invalid_parameter", message: "Parameter 'steps' must be at most 200.", field: "steps" } });
    expect(error).toMatchObject({ status: 422, code: "invalid_parameter", field: "steps" });
    expect(toApiError(401, { detail: "Not authenticated" })).toMatchObject({ code: "not_authenticated", message: "Not authenticated" });
    expect(toApiError(502, null)).toMatchObject({ code: "internal", message: "The server answered 502." });
  });

  it("says it in the page's language when the code is known, else passes the API's sentence on", () => {
    const ru = makeI18n("ru");
    expect(describeError(new ApiError(401, "bad_credentials", "Wrong user name or password."), ru)).toBe("Неверное имя пользователя или пароль.");
    expect(describeError(new ApiError(0, "network", "Failed to fetch"), ru)).toMatch(/^Сервер недоступен/);
    const en = makeI18n("en");
    expect(describeError(new ApiError(422, "invalid_parameter", "Parameter 'steps' must be at most 200."), en)).toBe(
      "Parameter 'steps' must be at most 200.",
    );
    expect(describeError(new Error("boom"), en)).toBe("Something went wrong: boom");
  });
});
