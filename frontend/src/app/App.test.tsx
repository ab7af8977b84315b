import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi } from "vitest";
import { apiError, json, makeJob, mockApi, signIn, USER, WORKFLOW, WORKFLOW_720 } from "../test/api-mock";
import { FakeEventSource } from "../test/event-source";
import { testQueryClient } from "../test/render";
import { galleryTiming } from "../features/jobs/api";
import { App } from "./App";

function renderApp(path: string, locale: "en" | "ru" = "en") {
  return render(<App queryClient={testQueryClient()} initialEntries={[path]} locale={locale} />);
}

function png(name = "cat.png"): File {
  return new File([new Uint8Array(64)], name, { type: "image/png" });
}

beforeEach(() => {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  vi.stubGlobal("createImageBitmap", vi.fn(async () => ({ width: 1920, height: 1080, close: () => undefined })));
  URL.createObjectURL = vi.fn(() => "blob:object");
  URL.revokeObjectURL = vi.fn();
});
afterEach(() => vi.unstubAllGlobals());

describe("login", () => {
  it("sends a signed-out person to log in, then back to the page they asked for", async () => {
    const user = userEvent.setup();
    const { calls } = mockApi({
      "POST /api/auth/login": async (request) => {
        expect(await request.json()).toEqual({ username: "alice", password: "pw" });
        return { access_token: "tok-9", token_type: "bearer", expires_in: 3600, user: USER };
      },
      "GET /api/jobs": () => ({ items: [], total: 0, page: 1, page_size: 12 }),
      "GET /api/jobs/:id": () => makeJob({ state: "failed", error: "boom" }),
    });
    renderApp("/jobs/job-1");
    expect(await screen.findByRole("heading", { name: "Log in" })).toBeInTheDocument();
    await user.type(screen.getByLabelText("User name"), "alice");
    await user.type(screen.getByLabelText("Password"), "pw");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByText("The video could not be made: boom")).toBeInTheDocument();
    const jobCall = calls.find((c) => new URL(c.url).pathname === "/api/jobs/job-1");
    expect(jobCall?.headers.get("Authorization")).toBe("Bearer tok-9");
    expect(JSON.parse(localStorage.getItem("wan.session") ?? "{}").token).toBe("tok-9");
  });

  it("shows the reason for a refused login and stays on the form", async () => {
    const user = userEvent.setup();
    mockApi({ "POST /api/auth/login": () => apiError(401, "bad_credentials", "Wrong user name or password.") });
    renderApp("/login");
    await user.type(screen.getByLabelText("User name"), "alice");
    await user.type(screen.getByLabelText("Password"), "nope");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong user name or password.");
    expect(screen.getByRole("heading", { name: "Log in" })).toBeInTheDocument();
  });

  it("logs out: the session is forgotten", async () => {
    signIn();
    const user = userEvent.setup();
    mockApi({ "GET /api/jobs": () => ({ items: [], total: 0, page: 1, page_size: 12 }) });
    renderApp("/");
    await user.click(await screen.findByRole("button", { name: "Log out" }));
    expect(await screen.findByRole("heading", { name: "Log in" })).toBeInTheDocument();
    expect(localStorage.getItem("wan.session")).toBeNull();
  });
});

describe("generate", () => {
  it("keeps Generate disabled with the reason until the form is valid", async () => {
    signIn();
    const user = userEvent.setup();
    mockApi({ "GET /api/workflows": () => [WORKFLOW, WORKFLOW_720] });
    renderApp("/generate");
    const button = await screen.findByRole("button", { name: "Generate" });
    await waitFor(() => expect(screen.getByText("Choose a start image.")).toBeInTheDocument());
    expect(button).toBeDisabled();
    expect(button).toHaveAccessibleDescription(/Choose a start image\./);
    // Defaults come from the manifest: the negative prompt is pre-filled, 81 frames at 16 fps = 5 s.
    expect(screen.getByLabelText("Negative prompt")).toHaveValue("blurry, static");
    expect(screen.getByLabelText("Duration (seconds)")).toHaveValue(5);
    expect(screen.getByText("81 frames at 16 fps = 5 s")).toBeInTheDocument();
    await user.upload(screen.getByLabelText("Start image"), png());
    expect(await screen.findByText("832 × 464 px")).toBeInTheDocument();
    await waitFor(() => expect(button).toBeEnabled());
    // An out-of-range advanced value blocks it again, naming the field.
    await user.click(screen.getByText("Advanced settings"));
    const steps = screen.getByLabelText("Steps");
    await user.clear(steps);
    await user.type(steps, "500");
    expect(await screen.findByText("Steps: must be at most 200")).toBeInTheDocument();
    expect(button).toBeDisabled();
    // Switching to 720p changes the output size shown.
    await user.clear(steps);
    await user.type(steps, "2");
    await user.selectOptions(screen.getByLabelText("Model"), "i2v_720p@1");
    expect(await screen.findByText("1280 × 720 px")).toBeInTheDocument();
    expect(steps).toHaveValue(2);
  });

  it("sends the image and every parameter as a form, then opens the job page", async () => {
    signIn();
    const user = userEvent.setup();
    let sent: FormData | null = null;
    mockApi({
      "GET /api/workflows": () => [WORKFLOW],
      "POST /api/generate": async (request) => {
        sent = await request.formData();
        return json({ job_id: "job-7", state: "queued", cached: false }, 202);
      },
      "GET /api/jobs/:id": () => makeJob({ id: "job-7", state: "queued", progress: 0, queue_position: 3 }),
    });
    renderApp("/generate");
    await user.upload(await screen.findByLabelText("Start image"), png());
    await user.type(await screen.findByLabelText("Prompt"), "a cat walks");
    const duration = screen.getByLabelText("Duration (seconds)");
    await user.clear(duration);
    await user.type(duration, "2");
    await user.clear(screen.getByLabelText("Seed"));
    await user.type(screen.getByLabelText("Seed"), "42");
    await user.click(screen.getByLabelText("Keep this seed"));
    await user.click(screen.getByRole("button", { name: "Generate" }));
    expect(await screen.findByText("Position 3 in the queue")).toBeInTheDocument();
    const form = sent as unknown as FormData;
    // (jsdom's File does not keep its name through a Request; a browser does, see the e2e test.)
    expect((form.get("image") as File).type).toBe("image/png");
    expect(form.get("workflow")).toBe("i2v_480p@1");
    expect(form.get("prompt")).toBe("a cat walks");
    expect(form.get("negative_prompt")).toBe("blurry, static");
    expect(form.get("num_frames")).toBe("33");
    expect(form.get("seed")).toBe("42");
    expect(form.get("steps")).toBe("40");
  });

  it("sends an expired session to log in and back, with the form as it was", async () => {
    signIn();
    const user = userEvent.setup();
    let expired = true;
    mockApi({
      "GET /api/workflows": () => [WORKFLOW],
      "POST /api/generate": () =>
        expired ? apiError(401, "token_expired", "Your session has expired.") : json({ job_id: "job-2", state: "queued", cached: false }, 202),
      "POST /api/auth/login": () => {
        expired = false;
        return { access_token: "tok-2", token_type: "bearer", expires_in: 3600, user: USER };
      },
      "GET /api/jobs/:id": () => makeJob({ id: "job-2", state: "queued", progress: 0, queue_position: 1 }),
    });
    renderApp("/generate");
    await user.upload(await screen.findByLabelText("Start image"), png("mine.png"));
    await user.type(await screen.findByLabelText("Prompt"), "waves at dusk");
    await user.click(screen.getByRole("button", { name: "Generate" }));
    expect(await screen.findByText(/Your session has expired/)).toBeInTheDocument();
    await user.type(screen.getByLabelText("User name"), "alice");
    await user.type(screen.getByLabelText("Password"), "pw");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("heading", { name: "New video" })).toBeInTheDocument();
    expect(await screen.findByLabelText("Prompt")).toHaveValue("waves at dusk");
    expect(screen.getByText(/mine\.png/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Generate" }));
    expect(await screen.findByText("Position 1 in the queue")).toBeInTheDocument();
  });
});

describe("job page", () => {
  it("shows progress with step, stage, elapsed time, and cancels", async () => {
    signIn();
    const user = userEvent.setup();
    let cancelled = false;
    mockApi({
      "GET /api/jobs/:id": () => (cancelled ? makeJob({ state: "cancelled" }) : makeJob({ started_at: new Date(Date.now() - 30_000).toISOString() })),
      "POST /api/jobs/:id/cancel": () => {
        cancelled = true;
        return makeJob({ state: "cancelled" });
      },
    });
    renderApp("/jobs/job-1");
    const bar = await screen.findByRole("progressbar", { name: "Progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "25");
    expect(bar).toHaveAttribute("aria-valuetext", "Stage: WanI2VSampler · step 5 of 20");
    expect(screen.getByText("Stage: WanI2VSampler · step 5 of 20")).toHaveAttribute("aria-live", "polite");
    expect(screen.getByText(/^Elapsed: /)).toBeInTheDocument();
    // 30 s for a quarter: about 90 s left.
    expect(screen.getByText(/About 1m 3\ds left|About 1m 2\ds left/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Cancel" }));
    expect(await screen.findByText("This job was cancelled.")).toBeInTheDocument();
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
  });

  it("plays a finished video, offers the download, beeps once, and reuses its settings", async () => {
    signIn();
    const user = userEvent.setup();
    const play = vi.fn(() => Promise.resolve());
    vi.stubGlobal("Audio", vi.fn(function (this: { play: typeof play }, src: string) {
      expect(src).toBe("/beep.mp3");
      this.play = play;
    }));
    vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(() => Promise.resolve());
    let job = makeJob({ state: "running" });
    mockApi({
      "GET /api/jobs/:id": () => job,
      "GET /api/download/:id": () => new Response("mp4", { headers: { "Content-Type": "video/mp4" } }),
      "GET /api/workflows": () => [WORKFLOW],
    });
    renderApp("/jobs/job-1");
    await screen.findByRole("progressbar");
    const source = FakeEventSource.latest();
    act(() => source.open());
    job = makeJob({
      state: "succeeded",
      progress: 1,
      step: 20,
      finished_at: "2026-01-02T03:05:06Z",
      video_url: "/api/download/job-1?sig=s1",
      poster_url: "/api/download/job-1?file=poster&sig=s1",
      outputs: [{ kind: "video", filename: "wan_i2v/cat_00001_.mp4", url: "/api/download/job-1?file=wan_i2v%2Fcat_00001_.mp4&sig=s1" }],
    });
    act(() => source.emit("end", job));
    const download = await screen.findByRole("link", { name: "Download MP4" });
    expect(download).toHaveAttribute("download", "cat_00001_.mp4");
    expect(download).toHaveAttribute("href", "/api/download/job-1?sig=s1"); // the signed URL: streamed, no blob
    expect(screen.getByRole("group", { name: "Video player: a cat walks" })).toBeInTheDocument();
    expect(play).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId("job-seed")).toHaveTextContent("1234");
    await user.click(screen.getByRole("button", { name: "Use these settings again" }));
    expect(await screen.findByRole("heading", { name: "New video" })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByLabelText("Seed")).toHaveValue("1234"));
    expect(screen.getByLabelText("Keep this seed")).toBeChecked();
    expect(screen.getByLabelText("Prompt")).toHaveValue("a cat walks");
    expect(screen.getByText("33 frames at 16 fps = 2 s")).toBeInTheDocument();
  });

  it("stays quiet when the sound is switched off", async () => {
    signIn();
    localStorage.setItem("wan.sound.muted", "1");
    const audio = vi.fn();
    vi.stubGlobal("Audio", audio);
    mockApi({ "GET /api/jobs/:id": () => makeJob({ state: "running" }) });
    renderApp("/jobs/job-1");
    await screen.findByRole("progressbar");
    expect(screen.getByLabelText("Sound when a video is ready")).not.toBeChecked();
    act(() => FakeEventSource.latest().emit("end", makeJob({ state: "failed", error: "out of memory" })));
    expect(await screen.findByRole("alert")).toHaveTextContent("The video could not be made: out of memory");
    expect(audio).not.toHaveBeenCalled();
  });

  it("says a job is not there (or not yours) on 404", async () => {
    signIn();
    mockApi({ "GET /api/jobs/:id": () => apiError(404, "not_found", "No job job-x.") });
    renderApp("/jobs/job-x");
    expect(await screen.findByRole("alert")).toHaveTextContent("This job does not exist, or it is not yours.");
  });
});

describe("home", () => {
  it("lists own jobs newest first with badges and pages through them", async () => {
    signIn();
    const user = userEvent.setup();
    const pages: number[] = [];
    mockApi({
      "GET /api/jobs": (request) => {
        const page = Number(new URL(request.url).searchParams.get("page"));
        pages.push(page);
        const items =
          page === 1
            ? [makeJob({ id: "j2", state: "running", parameters: { prompt: "second" } }), makeJob({ id: "j1", state: "succeeded", parameters: { prompt: "first" } })]
            : [makeJob({ id: "j0", state: "failed", parameters: { prompt: "oldest" } })];
        return { items, total: 13, page, page_size: 12 };
      },
    });
    renderApp("/");
    const gallery = await screen.findByRole("list", { name: "My videos" });
    const cards = within(gallery).getAllByRole("link");
    expect(cards.map((c) => c.textContent)).toEqual([
      expect.stringContaining("second"),
      expect.stringContaining("first"),
    ]);
    expect(cards[0]).toHaveAccessibleName(/^second Running /);
    expect(within(gallery).getByText("Running")).toBeInTheDocument();
    expect(within(gallery).getByText("Done")).toBeInTheDocument();
    expect(screen.getByText("13 videos")).toBeInTheDocument();
    expect(screen.getByText("Page 1 of 2")).toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "GPU instances" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Next page" }));
    expect(await screen.findByText("oldest")).toBeInTheDocument();
    expect(pages).toContain(2);
  });

  it("refreshes while a job runs and stops once all are finished", async () => {
    signIn();
    galleryTiming.pollMs = 100;
    let calls = 0;
    mockApi({
      "GET /api/jobs": () => {
        calls += 1;
        const state = calls < 3 ? "running" : "succeeded";
        return { items: [makeJob({ id: "j1", state, parameters: { prompt: "live" } })], total: 1, page: 1, page_size: 12 };
      },
    });
    renderApp("/");
    expect(await screen.findByText("Running")).toBeInTheDocument();
    expect(await screen.findByText("Done", {}, { timeout: 2000 })).toBeInTheDocument();
    const settled = calls;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(calls).toBe(settled);
    galleryTiming.pollMs = 3_000;
  });

  it("shows admins every job and the instances, in Russian when chosen", async () => {
    signIn({ ...USER, username: "root", role: "admin" });
    mockApi({
      "GET /api/jobs": () => ({ items: [makeJob({ user: "alice" })], total: 1, page: 1, page_size: 12 }),
      "GET /api/instances": () => [
        { id: "gpu0", url: "http://127.0.0.1:8188", state: "up", queue_depth: 1, current_job: "job-1", node_types: 12, last_seen_at: "2026-01-02T03:04:05Z", error: null },
        { id: "gpu1", url: "http://127.0.0.1:8189", state: "down", queue_depth: 0, current_job: null, node_types: 0, last_seen_at: null, error: "refused" },
      ],
    });
    renderApp("/", "ru");
    expect(await screen.findByRole("heading", { name: "Все видео" })).toBeInTheDocument();
    expect(await screen.findByText(/автор: alice/)).toBeInTheDocument();
    const table = await screen.findByRole("table");
    expect(within(table).getByText("http://127.0.0.1:8188")).toBeInTheDocument();
    expect(within(table).getByText("работает")).toBeInTheDocument();
    expect(within(table).getByText("недоступен")).toBeInTheDocument();
  });
});
