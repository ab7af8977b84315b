import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { fetchBlob } from "../../lib/api/client";

/**
 * An object URL for an API file (video, poster). <video>/<img> cannot send the bearer token, so the
 * file is fetched with it and shown from memory; the blob is cached per URL and the object URL
 * revoked when no longer shown.
 */
export function useBlobUrl(url: string | null | undefined) {
  const blob = useQuery({
    queryKey: ["blob", url] as const,
    queryFn: ({ signal }) => fetchBlob(url as string, signal),
    enabled: Boolean(url),
    staleTime: Infinity,
    gcTime: 5 * 60_000,
    retry: 1,
  });
  const [objectUrl, setObjectUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!blob.data) {
      setObjectUrl(null);
      return;
    }
    const created = URL.createObjectURL(blob.data);
    setObjectUrl(created);
    return () => URL.revokeObjectURL(created);
  }, [blob.data]);
  return { url: objectUrl, isLoading: blob.isLoading, error: blob.error };
}
