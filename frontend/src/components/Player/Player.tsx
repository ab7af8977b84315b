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

function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "0:00";
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
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
          <span aria-hidden="true">{playing ? "❚❚" : "▶"}</span>
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
          aria-valuetext={t("player.time", { current: clock(time), total: clock(duration) })}
        />
        <span className="player-time" aria-hidden="true">
          {t("player.time", { current: clock(time), total: clock(duration) })}
        </span>
        <button type="button" aria-pressed={loop} onClick={() => setLoop(!loop)}>
          {t("player.loop")}
        </button>
        <button type="button" onClick={() => setMuted(!muted)} aria-label={muted ? t("player.unmute") : t("player.mute")}>
          <span aria-hidden="true">{muted ? "🔇" : "🔊"}</span>
        </button>
        <button type="button" onClick={fullscreen} aria-label={t("player.fullscreen")}>
          <span aria-hidden="true">⛶</span>
        </button>
      </div>
    </figure>
  );
}
