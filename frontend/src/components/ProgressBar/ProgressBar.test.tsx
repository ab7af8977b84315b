import { render, screen } from "@testing-library/react";
import { ProgressBar } from "./ProgressBar";

describe("ProgressBar", () => {
  it("exposes its value, label and step text to assistive technology", () => {
    render(<ProgressBar value={0.456} label="Progress" valueText="Step 9 of 20" detail="Step 9 of 20 · Stage: sampler" />);
    const bar = screen.getByRole("progressbar", { name: "Progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "46");
    expect(bar).toHaveAttribute("aria-valuemin", "0");
    expect(bar).toHaveAttribute("aria-valuemax", "100");
    expect(bar).toHaveAttribute("aria-valuetext", "Step 9 of 20");
    expect(screen.getByText("46%")).toBeInTheDocument();
    const detail = screen.getByText("Step 9 of 20 · Stage: sampler");
    expect(detail).toHaveAttribute("aria-live", "polite");
  });

  it("clamps out-of-range values and fills the bar to match", () => {
    const { container } = render(<ProgressBar value={1.7} label="Progress" />);
    expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
    expect(container.querySelector(".progress-fill")).toHaveStyle({ width: "100%" });
  });

  it("is indeterminate (no aria-valuenow) while the amount is unknown", () => {
    render(<ProgressBar value={null} label="Progress" />);
    const bar = screen.getByRole("progressbar");
    expect(bar).not.toHaveAttribute("aria-valuenow");
    expect(bar.className).toContain("progress-indeterminate");
  });
});
