import { useEffect, useId, useRef, useState } from "react";
import { useI18n } from "../../lib/i18n";

export type PlayerProps = {
  src: string;
  poster?: string;
  /** Accessible name of the player region, e.g. the prompt. */
  title: string;
  autoPlay?: boolean;
  /** Start looping (the loop switch can change it). */
  loop?: boolean;
};

const ICONS = {
  play: "M8 5v14l11-7z",
  pause: "M6 5h4v14H6zM14 5h4v14h-4z",
  muted: "M4 9v6h4l5 5V4L8 9H4zm12.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z",
  sound: "M4 9v6h4l5 5V4L8 9H4zm12.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z",
  fullscreen: "M5 5h5v2H7v3H5zm9 0h5v5h-2V7h-3zM5 14h2v3h3v2H5zm12 0h2v5h-5v-2h3z",
};

function Icon({ name }: { name: keyof typeof ICONS }) {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path d={ICONS[name]} fill="currentColor" />
    </svg>
  );
}

/** m:ss, with tenths for clips under ten seconds (a 5-frame video lasts 0.3 s). */
function clock(seconds: number, fine: boolean): string {
  if (!Number.isFinite(seconds) || seconds < 0) return fine ? "0:00.0" : "0:00";
  const whole = Math.floor(seconds);
  const base = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  return fine ? `${base}.${Math.floor((seconds - whole) * 10)}` : base;
}

/** A video with its own labelled controls: play/pause, seek, loop, mute and full screen, over a poster. */
export function Player({ src, poster, title, autoPlay = false, loop: initialLoop = true }: PlayerProps) {
  const { t } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  const frame = useRef<HTMLDivElement>(null);
  const seekId = useId();
  const [playing, setPlaying] = useState(false);
  const [muted, setMuted] = useState(true);
  const [loop, setLoop] = useState(initialLoop);
  const [time, setTime] = useState(0);
  const [duration, setDuration] = useState(0);

  useEffect(() => {
    if (video.current) video.current.muted = muted;
  }, [muted]);
  useEffect(() => {
    if (video.current) video.current.loop = loop;
  }, [loop]);

  const fine = Number.isFinite(duration) && duration > 0 && duration < 10;

  function togglePlay() {
    const element = video.current;
    if (!element) return;
    if (element.paused) void element.play()?.catch(() => setPlaying(false));
    else element.pause();
  }

  function seek(value: number) {
    const element = video.current;
    if (!element) return;
    element.currentTime = value;
    setTime(value);
  }

  function fullscreen() {
    const element = frame.current ?? video.current;
    if (!element) return;
    if (document.fullscreenElement) void document.exitFullscreen?.();
    else void element.requestFullscreen?.();
  }

  return (
    <figure className="player" role="group" aria-label={`${t("player.label")}: ${title}`} ref={frame}>
      <video
        ref={video}
        src={src}
        poster={poster}
        playsInline
        muted={muted}
        loop={loop}
        autoPlay={autoPlay}
        preload="metadata"
        onClick={togglePlay}
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onEnded={() => setPlaying(false)}
        onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
        onLoadedMetadata={(e) => setDuration(e.currentTarget.duration)}
        onDurationChange={(e) => setDuration(e.currentTarget.duration)}
      />
      <div className="player-controls">
        <button type="button" onClick={togglePlay} aria-label={playing ? t("player.pause") : t("player.play")}>
          <Icon name={playing ? "pause" : "play"} />
        </button>
        <label htmlFor={seekId} className="visually-hidden">
          {t("player.seek")}
        </label>
        <input
          id={seekId}
          type="range"
          min={0}
          max={duration > 0 && Number.isFinite(duration) ? duration : 0}
          step="any"
          value={Math.min(time, Number.isFinite(duration) ? duration : 0)}
          onChange={(e) => seek(Number(e.target.value))}
          aria-valuetext={t("player.time", { current: clock(time, fine), total: clock(duration, fine) })}
        />
        <span className="player-time" aria-hidden="true">
          {t("player.time", { current: clock(time, fine), total: clock(duration, fine) })}
        </span>
        <button type="button" aria-pressed={loop} onClick={() => setLoop(!loop)}>
          {t("player.loop")}
        </button>
        <button type="button" onClick={() => setMuted(!muted)} aria-label={muted ? t("player.unmute") : t("player.mute")}>
          <Icon name={muted ? "muted" : "sound"} />
        </button>
        <button type="button" onClick={fullscreen} aria-label={t("player.fullscreen")}>
          <Icon name="fullscreen" />
        </button>
      </div>
    </figure>
  );
}
