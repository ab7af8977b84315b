import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi } from "vitest";
import { Player } from "./Player";

function video(container: HTMLElement): HTMLVideoElement {
  const element = container.querySelector("video");
  if (!element) throw new Error("no <video>");
  return element;
}

describe("Player", () => {
  beforeEach(() => {
    // jsdom has no media pipeline: play/pause only fire the events a real browser would.
    vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(function (this: HTMLMediaElement) {
      Object.defineProperty(this, "paused", { value: false, configurable: true });
      this.dispatchEvent(new Event("play"));
      return Promise.resolve();
    });
    vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(function (this: HTMLMediaElement) {
      Object.defineProperty(this, "paused", { value: true, configurable: true });
      this.dispatchEvent(new Event("pause"));
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it("shows the video over its poster, looping and muted by default", () => {
    const { container } = render(<Player src="blob:video" poster="blob:poster" title="a cat" />);
    const element = video(container);
    expect(element).toHaveAttribute("src", "blob:video");
    expect(element).toHaveAttribute("poster", "blob:poster");
    expect(element.loop).toBe(true);
    expect(element.muted).toBe(true);
    expect(screen.getByRole("group", { name: "Video player: a cat" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Loop" })).toHaveAttribute("aria-pressed", "true");
  });

  it("plays and pauses from its button, whose name follows the state", async () => {
    const user = userEvent.setup();
    const { container } = render(<Player src="blob:video" title="a cat" />);
    await user.click(screen.getByRole("button", { name: "Play" }));
    expect(HTMLMediaElement.prototype.play).toHaveBeenCalledTimes(1);
    await user.click(screen.getByRole("button", { name: "Pause" }));
    expect(HTMLMediaElement.prototype.pause).toHaveBeenCalledTimes(1);
    expect(video(container).paused).toBe(true);
    expect(screen.getByRole("button", { name: "Play" })).toBeInTheDocument();
  });

  it("toggles loop and sound on the element", async () => {
    const user = userEvent.setup();
    const { container } = render(<Player src="blob:video" title="a cat" />);
    await user.click(screen.getByRole("button", { name: "Loop" }));
    expect(video(container).loop).toBe(false);
    expect(screen.getByRole("button", { name: "Loop" })).toHaveAttribute("aria-pressed", "false");
    await user.click(screen.getByRole("button", { name: "Unmute" }));
    expect(video(container).muted).toBe(false);
    expect(screen.getByRole("button", { name: "Mute" })).toBeInTheDocument();
  });

  it("seeks with the position slider once the duration is known", () => {
    const { container } = render(<Player src="blob:video" title="a cat" />);
    const element = video(container);
    Object.defineProperty(element, "duration", { value: 5, configurable: true });
    fireEvent(element, new Event("loadedmetadata"));
    const slider = screen.getByRole("slider", { name: "Position" });
    expect(slider).toHaveAttribute("max", "5");
    fireEvent.change(slider, { target: { value: "2.5" } });
    expect(element.currentTime).toBe(2.5);
    expect(slider).toHaveAttribute("aria-valuetext", "0:02.5 / 0:05.0");
  });

  it("asks for full screen on the player", async () => {
    const user = userEvent.setup();
    const requestFullscreen = vi.fn(() => Promise.resolve());
    Object.defineProperty(HTMLElement.prototype, "requestFullscreen", { value: requestFullscreen, configurable: true });
    render(<Player src="blob:video" title="a cat" />);
    await user.click(screen.getByRole("button", { name: "Full screen" }));
    expect(requestFullscreen).toHaveBeenCalledTimes(1);
  });
});
