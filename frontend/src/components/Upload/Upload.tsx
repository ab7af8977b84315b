import { useEffect, useId, useRef, useState, type DragEvent } from "react";
import { useI18n, type I18n } from "../../lib/i18n";
import { IMAGE_LIMITS, type ImageLimits } from "../../lib/limits";
import { checkImage, readImageSize, type ImageInfo, type ImageProblem, type SizeReader } from "./check";

export type UploadProps = {
  value: ImageInfo | null;
  /** A checked image, or null with the reason (null, null when the image was removed). */
  onChange: (image: ImageInfo | null, problem: string | null) => void;
  limits?: ImageLimits;
  readSize?: SizeReader;
  /** Listen for pasted images on the whole window (one Upload per page). */
  pasteTarget?: boolean;
};

export function problemText(problem: ImageProblem, { t, formatBytes, formatNumber }: I18n): string {
  switch (problem.kind) {
    case "badType":
    case "unreadable":
      return t(`upload.${problem.kind}`, problem.vars);
    case "tooLarge":
      return t("upload.tooLarge", { size: formatBytes(problem.vars.size), limit: formatBytes(problem.vars.limit) });
    case "tooManyPixels":
      return t("upload.tooManyPixels", {
        pixels: formatNumber(problem.vars.pixels / 1e6, { maximumFractionDigits: 1 }),
        limit: formatNumber(problem.vars.limit / 1e6, { maximumFractionDigits: 1 }),
      });
    case "tooSmall":
      return t("upload.tooSmall", { width: String(problem.vars.width), height: String(problem.vars.height), min: problem.vars.min });
  }
}

function firstImageFile(items: DataTransferItemList | null | undefined, files: FileList | null | undefined) {
  if (files && files.length > 0) return files[0] ?? null;
  for (const item of Array.from(items ?? [])) {
    if (item.kind === "file") return item.getAsFile();
  }
  return null;
}

/** Drop, paste or pick the start image; shows a preview and refuses a wrong file with a reason. */
export function Upload({ value, onChange, limits = IMAGE_LIMITS, readSize = readImageSize, pasteTarget = true }: UploadProps) {
  const i18n = useI18n();
  const { t, formatBytes } = i18n;
  const inputId = useId();
  const problemId = useId();
  const input = useRef<HTMLInputElement>(null);
  const [problem, setProblem] = useState<ImageProblem | null>(null);
  const [reading, setReading] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [preview, setPreview] = useState<string | null>(null);
  const latest = useRef(0);

  useEffect(() => {
    if (!value || typeof URL.createObjectURL !== "function") {
      setPreview(null);
      return;
    }
    const url = URL.createObjectURL(value.file);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [value]);

  const accept = async (file: File | null) => {
    if (!file) return;
    const ticket = ++latest.current;
    setReading(true);
    const result = await checkImage(file, limits, readSize);
    if (ticket !== latest.current) return;
    setReading(false);
    if ("problem" in result) {
      setProblem(result.problem);
      onChange(null, problemText(result.problem, i18n));
    } else {
      setProblem(null);
      onChange(result.image, null);
    }
  };
  const acceptRef = useRef(accept);
  acceptRef.current = accept;

  useEffect(() => {
    if (!pasteTarget) return;
    const onPaste = (event: ClipboardEvent) => {
      const file = firstImageFile(event.clipboardData?.items, event.clipboardData?.files);
      if (!file) return;
      event.preventDefault();
      void acceptRef.current(file);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  }, [pasteTarget]);

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    void accept(firstImageFile(event.dataTransfer.items, event.dataTransfer.files));
  }

  return (
    <fieldset className="upload">
      <legend>{t("upload.label")}</legend>
      <div
        className={`dropzone${dragging ? " dragging" : ""}${problem ? " invalid" : ""}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        data-testid="dropzone"
      >
        {value && preview ? (
          <img className="upload-preview" src={preview} alt={t("upload.preview")} />
        ) : (
          <p>
            {t("upload.hint")}{" "}
            <label htmlFor={inputId} className="link-button">
              {t("upload.pick")}
            </label>
          </p>
        )}
        <input
          ref={input}
          id={inputId}
          className="visually-hidden"
          type="file"
          accept={limits.accept}
          aria-label={t("upload.label")}
          aria-describedby={problem ? problemId : undefined}
          aria-invalid={problem ? true : undefined}
          onChange={(event) => {
            void accept(event.target.files?.[0] ?? null);
            event.target.value = "";
          }}
        />
      </div>
      {reading && <p role="status">{t("upload.reading")}</p>}
      {value && (
        <div className="upload-info">
          <span>
            {value.file.name} — {t("upload.info", { width: String(value.width), height: String(value.height), size: formatBytes(value.file.size) })}
          </span>
          <button type="button" onClick={() => input.current?.click()}>
            {t("upload.change")}
          </button>
          <button
            type="button"
            onClick={() => {
              setProblem(null);
              onChange(null, null);
            }}
          >
            {t("upload.remove")}
          </button>
        </div>
      )}
      {problem && (
        <p className="error" role="alert" id={problemId}>
          {problemText(problem, i18n)}
        </p>
      )}
    </fieldset>
  );
}
