import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { vi } from "vitest";
import type { Parameter } from "../../lib/api/types";
import { I18nProvider, type Locale } from "../../lib/i18n";
import { ParameterField } from "./ParameterField";

function Field({ parameter, initial, locale = "en", onChange = vi.fn() }: { parameter: Parameter; initial: string; locale?: Locale; onChange?: (v: string) => void }) {
  const [value, setValue] = useState(initial);
  return (
    <I18nProvider initial={locale}>
      <ParameterField
        parameter={parameter}
        value={value}
        onChange={(next) => {
          setValue(next);
          onChange(next);
        }}
      />
    </I18nProvider>
  );
}

const p = (fields: Partial<Parameter> & Pick<Parameter, "name" | "type">): Parameter =>
  ({ default: null, description: "", advanced: true, ...fields }) as Parameter;

describe("ParameterField", () => {
  it("draws a number with its bounds, default and description, and flags a bad value", () => {
    render(<Field parameter={p({ name: "steps", type: "int", default: 40, min: 1, max: 200, description: "Denoising steps." })} initial="40" />);
    const input = screen.getByLabelText("Steps");
    expect(input).toHaveAttribute("type", "number");
    expect(input).toHaveAccessibleDescription("Denoising steps. From 1 to 200. Default: 40");
    fireEvent.change(input, { target: { value: "0" } });
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("must be at least 1")).toBeInTheDocument();
  });

  it("draws an enum as a select of its choices and a bool as a checkbox", () => {
    const onChange = vi.fn();
    render(<Field parameter={p({ name: "attention", type: "enum", default: "auto", choices: ["auto", "sdpa", "sage"] })} initial="auto" onChange={onChange} />);
    const select = screen.getByLabelText("Attention");
    expect([...select.querySelectorAll("option")].map((o) => o.textContent)).toEqual(["auto", "sdpa", "sage"]);
    fireEvent.change(select, { target: { value: "sage" } });
    expect(onChange).toHaveBeenLastCalledWith("sage");
    render(<Field parameter={p({ name: "tiled_decode", type: "bool", default: false })} initial="false" onChange={onChange} />);
    const box = screen.getByLabelText("Tiled decode");
    expect(box).toHaveAttribute("type", "checkbox");
    fireEvent.click(box);
    expect(onChange).toHaveBeenLastCalledWith("true");
  });

  it("labels a parameter the page does not know from its name, and known ones in the locale", () => {
    render(<Field parameter={p({ name: "motion_bucket_id", type: "float", min: 0, max: 2 })} initial="1" locale="ru" />);
    expect(screen.getByLabelText("Motion bucket id")).toHaveAccessibleDescription("От 0 до 2.");
    render(<Field parameter={p({ name: "steps", type: "int", min: 1, max: 200 })} initial="1" locale="ru" />);
    expect(screen.getByLabelText("Шаги")).toBeInTheDocument();
  });

  it("says a stepped value's rule as the server does", () => {
    render(<Field parameter={p({ name: "width", type: "int", min: 16, max: 2048, step: 16 })} initial="500" />);
    expect(screen.getByText("must be a multiple of 16")).toBeInTheDocument();
    render(<Field parameter={p({ name: "num_frames", type: "int", min: 1, max: 1001, step: 4 })} initial="80" />);
    expect(screen.getByText("must be 1 plus a multiple of 4")).toBeInTheDocument();
  });
});
