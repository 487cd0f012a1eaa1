/** Encode one path segment (names, labels, versions) for a URL. */
export function seg(s: string | number): string {
  return encodeURIComponent(String(s));
}
