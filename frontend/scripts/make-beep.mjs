// Writes public/beep.mp3: a short two-tone chime synthesised by ffmpeg (the one bundled with the
// imageio-ffmpeg package in the project's .venv, or FFMPEG=/path/to/ffmpeg). Nothing is downloaded.
// The result (a few KB) is committed, so a build needs no ffmpeg; run `npm run gen:beep` to remake it.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const frontend = resolve(here, "..");
const out = join(frontend, "public", "beep.mp3");

function findFfmpeg() {
  if (process.env.FFMPEG) return process.env.FFMPEG;
  const python = resolve(frontend, "..", ".venv", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(`No ${python}: run \`make setup\` first, or set FFMPEG to an ffmpeg binary.`);
  }
  return execFileSync(python, ["-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"], {
    encoding: "utf8",
  }).trim();
}

// Two sine tones (880 Hz then 1320 Hz, 0.12 s each) with short fades so neither clicks.
const tone = (freq, start) =>
  `sine=frequency=${freq}:sample_rate=22050:duration=0.12,volume=0.5,` +
  `afade=t=in:st=0:d=0.01,afade=t=out:st=0.09:d=0.03,adelay=${start}|${start}`;
const graph = `${tone(880, 0)}[a];${tone(1320, 120)}[b];[a][b]amix=inputs=2:duration=longest:normalize=0`;

execFileSync(
  findFfmpeg(),
  ["-hide_banner", "-loglevel", "error", "-y", "-filter_complex", graph, "-ac", "1",
   "-c:a", "libmp3lame", "-b:a", "48k", "-map_metadata", "-1", "-fflags", "+bitexact", out],
  { stdio: "inherit" },
);
console.log(`wrote ${out} (${statSync(out).size} bytes)`);
