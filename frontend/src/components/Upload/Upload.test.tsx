import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { vi } from "vitest";
import { I18nProvider } from "../../lib/i18n";
import { IMAGE_LIMITS } from "../../lib/limits";
import { checkImage, type ImageInfo, type SizeReader } from "./check";
import { Upload } from "./Upload";

function file(name: string, type: string, bytes = 10): File {
  return new File([new Uint8Array(bytes)], name, { type });
}

function Harness({ readSize, onChange }: { readSize: SizeReader; onChange: (i: ImageInfo | null, p: string | null) => void }) {
  const [value, setValue] = useState<ImageInfo | null>(null);
  return (
    <I18nProvider initial="en">
      <Upload
        value={value}
        readSize={readSize}
        onChange={(image, problem) => {
          setValue(image);
          onChange(image, problem);
        }}
      />
    </I18nProvider>
  );
}

describe("Upload", () => {
  beforeEach(() => {
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: vi.fn(() => "blob:preview"), revokeObjectURL: vi.fn() }));
  });

  it("accepts a picked PNG: preview and its size", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness readSize={async () => ({ width: 1280, height: 720 })} onChange={onChange} />);
    await user.upload(screen.getByLabelText("Start image"), file("cat.png", "image/png", 2048));
    expect(await screen.findByRole("img", { name: "Preview of the start image" })).toHaveAttribute("src", "blob:preview");
    expect(screen.getByText(/cat\.png — 1280 × 720 px, 2 kB/)).toBeInTheDocument();
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ width: 1280, height: 720 }), null);
  });

  it("refuses a file that is not an image before reading it", async () => {
    const onChange = vi.fn();
    const readSize = vi.fn(async () => ({ width: 10, height: 10 }));
    render(<Harness readSize={readSize} onChange={onChange} />);
    // fireEvent, not userEvent: userEvent would filter the file by the input's accept attribute.
    fireEvent.change(screen.getByLabelText("Start image"), { target: { files: [file("notes.txt", "text/plain")] } });
    expect(await screen.findByRole("alert")).toHaveTextContent("“notes.txt” is not a PNG, JPEG, WebP, BMP or GIF image.");
    expect(readSize).not.toHaveBeenCalled();
    expect(onChange).toHaveBeenLastCalledWith(null, "“notes.txt” is not a PNG, JPEG, WebP, BMP or GIF image.");
    expect(screen.getByLabelText("Start image")).toHaveAttribute("aria-invalid", "true");
  });

  it("takes BMP and GIF (by extension when the browser names no type) and leaves TIFF to the API", async () => {
    const readSize = async () => ({ width: 64, height: 48 });
    for (const picked of [file("cat.bmp", "image/bmp"), file("cat.gif", ""), file("CAT.BMP", "")]) {
      expect(await checkImage(picked, IMAGE_LIMITS, readSize)).toEqual({ image: { file: picked, width: 64, height: 48 } });
    }
    expect(IMAGE_LIMITS.accept.split(",")).toEqual(expect.arrayContaining([".bmp", ".gif", "image/bmp", "image/gif"]));
    const tiff = file("scan.tiff", "image/tiff");
    expect(await checkImage(tiff, IMAGE_LIMITS, readSize)).toEqual({ problem: { kind: "badType", vars: { name: "scan.tiff" } } });
  });

  it("refuses a file over the byte limit", async () => {
    const onChange = vi.fn();
    render(<Harness readSize={async () => ({ width: 10, height: 10 })} onChange={onChange} />);
    fireEvent.change(screen.getByLabelText("Start image"), {
      target: { files: [file("big.jpg", "image/jpeg", IMAGE_LIMITS.maxBytes + 1)] },
    });
    expect(await screen.findByRole("alert")).toHaveTextContent("The image is 20 MB; the limit is 20 MB.");
  });

  it("refuses too many pixels and too small a side", async () => {
    const onChange = vi.fn();
    let size = { width: 8000, height: 6000 };
    render(<Harness readSize={async () => size} onChange={onChange} />);
    const input = screen.getByLabelText("Start image");
    fireEvent.change(input, { target: { files: [file("huge.png", "image/png")] } });
    expect(await screen.findByRole("alert")).toHaveTextContent("The image has 48 megapixels; the limit is 40.");
    size = { width: 8, height: 100 };
    fireEvent.change(input, { target: { files: [file("thin.png", "image/png")] } });
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("The image is 8 × 100 px; each side must be at least 16 px."));
  });

  it("says so when the file cannot be decoded", async () => {
    render(<Harness readSize={async () => Promise.reject(new Error("bad"))} onChange={vi.fn()} />);
    fireEvent.change(screen.getByLabelText("Start image"), { target: { files: [file("broken.webp", "image/webp")] } });
    expect(await screen.findByRole("alert")).toHaveTextContent("“broken.webp” could not be read as an image.");
  });

  it("takes a dropped image and a pasted one", async () => {
    const onChange = vi.fn();
    render(<Harness readSize={async () => ({ width: 640, height: 480 })} onChange={onChange} />);
    fireEvent.drop(screen.getByTestId("dropzone"), { dataTransfer: { files: [file("drop.png", "image/png")], items: [] } });
    expect(await screen.findByText(/drop\.png — 640 × 480 px/)).toBeInTheDocument();
    const paste = new Event("paste", { bubbles: true, cancelable: true }) as Event & { clipboardData: unknown };
    paste.clipboardData = { files: [file("pasted.jpg", "image/jpeg")], items: [] };
    await act(async () => {
      window.dispatchEvent(paste);
    });
    expect(await screen.findByText(/pasted\.jpg — 640 × 480 px/)).toBeInTheDocument();
    expect(paste.defaultPrevented).toBe(true);
  });

  it("removes the image", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness readSize={async () => ({ width: 64, height: 64 })} onChange={onChange} />);
    await user.upload(screen.getByLabelText("Start image"), file("a.png", "image/png"));
    await user.click(await screen.findByRole("button", { name: "Remove image" }));
    expect(onChange).toHaveBeenLastCalledWith(null, null);
    expect(screen.queryByRole("img")).not.toBeInTheDocument();
  });
});
