// The "video is ready" chime (public/beep.mp3, made by scripts/make-beep.mjs) and its mute switch,
// remembered in localStorage.
import { useCallback, useSyncExternalStore } from "react";
import { readStored, writeStored } from "./storage";

export const MUTE_STORAGE_KEY = "wan.sound.muted";
const listeners = new Set<() => void>();

export function isSoundMuted(): boolean {
  return readStored(MUTE_STORAGE_KEY) === "1";
}

export function setSoundMuted(muted: boolean): void {
  writeStored(MUTE_STORAGE_KEY, muted ? "1" : "0");
  listeners.forEach((listener) => listener());
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSoundMuted(): [boolean, (muted: boolean) => void] {
  const muted = useSyncExternalStore(subscribe, isSoundMuted, isSoundMuted);
  const set = useCallback((next: boolean) => setSoundMuted(next), []);
  return [muted, set];
}

/** Play the chime unless muted. Returns whether it tried (a blocked autoplay is not an error). */
export function playFinishSound(): boolean {
  if (isSoundMuted() || typeof Audio === "undefined") return false;
  try {
    const audio = new Audio(`${import.meta.env.BASE_URL}beep.mp3`);
    audio.volume = 0.6;
    void audio.play()?.catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}
