import { render, screen, within } from "@testing-library/react";
import { vi } from "vitest";
import type { Workflow } from "../../lib/api/types";
import { I18nProvider } from "../../lib/i18n";
import { WorkflowSelect } from "./fields";

const wf = (ref: string, latest: boolean, demo_model = false): Workflow =>
  ({ name: ref.split("@")[0], version: Number(ref.split("@")[1]), ref, title: `${ref.split("@")[0]} title`, description: "",
     fps: 16, latest, demo_model, parameters: [] }) as Workflow;

function Select({ workflows, value }: { workflows: Workflow[]; value: Workflow }) {
  return (
    <I18nProvider initial="en">
      <WorkflowSelect workflows={workflows} value={value} onChange={vi.fn()} />
    </I18nProvider>
  );
}

describe("WorkflowSelect", () => {
  it("lists the latest versions first and earlier ones apart", () => {
    const workflows = [wf("i2v_480p@1", false), wf("i2v_480p@2", true), wf("i2v_720p@1", true)];
    render(<Select workflows={workflows} value={workflows[1]!} />);
    const select = screen.getByLabelText("Model");
    const top = Array.from(select.children).filter((c) => c.tagName === "OPTION").map((o) => o.textContent);
    expect(top).toEqual(["i2v_480p title", "i2v_720p title"]);
    const older = within(screen.getByRole("group", { name: "Earlier versions" })).getAllByRole("option");
    expect(older.map((o) => o.textContent)).toEqual(["i2v_480p title (v1)"]);
    expect(screen.queryByText(/demo model/)).not.toBeInTheDocument();
  });

  it("says when the demo model stands in for the workflow's files", () => {
    const workflows = [wf("i2v_480p@2", true, true)];
    render(<Select workflows={workflows} value={workflows[0]!} />);
    expect(screen.getByText(/tiny demo model: its videos are noise/)).toBeInTheDocument();
    expect(screen.queryByRole("group")).not.toBeInTheDocument();
  });
});
