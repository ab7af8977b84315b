import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach } from "vitest";
import { clearDraft } from "../features/generate/draft";

afterEach(() => {
  cleanup();
  clearDraft();
  localStorage.clear();
  sessionStorage.clear();
});
