const ident = /^[A-Za-z_$][\w$]*$/;

/** Format a path as `a.b[3]["odd key"]`. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = "";
  for (const seg of segments) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (ident.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export interface SourceLocation {
  file?: string;
  line?: number;
  column?: number;
}

/** Maps JSON paths (see formatPath) to where they were written. */
export type SourceLocations = Record<string, SourceLocation>;

/** A lookup that finds a path's location, or its nearest located ancestor's. */
export function locator(locations: SourceLocations): (path: string) => SourceLocation | undefined {
  return (path: string) => {
    let p = path;
    while (p) {
      const hit = locations[p];
      if (hit) return hit;
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      p = cut > 0 ? p.slice(0, cut) : "";
    }
    return undefined;
  };
}
