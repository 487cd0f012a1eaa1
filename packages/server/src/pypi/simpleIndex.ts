/** One distribution file on a project page of the simple index. */
export interface IndexFile {
  filename: string;
  /** URL of the file (relative to the project page, or absolute). */
  url: string;
  /** Hex SHA-256 of the file. */
  sha256: string;
  size: number;
  requiresPython: string | null;
  /** Hex SHA-256 of the PEP 658 metadata file served at `<url>.metadata`, or null when none. */
  metadataSha256: string | null;
  /** false, or the reason (`""` when yanked without one). */
  yanked: false | string;
  /** ISO 8601 upload time (PEP 700). */
  uploadTime: string;
  version: string;
}

export const PYPI_JSON = "application/vnd.pypi.simple.v1+json";
export const PYPI_HTML = "application/vnd.pypi.simple.v1+html";
export const TEXT_HTML = "text/html";
export type SimpleFormat = typeof PYPI_JSON | typeof PYPI_HTML | typeof TEXT_HTML;

const ALIASES: Record<string, SimpleFormat> = {
  [PYPI_JSON]: PYPI_JSON,
  "application/vnd.pypi.simple.latest+json": PYPI_JSON,
  [PYPI_HTML]: PYPI_HTML,
  "application/vnd.pypi.simple.latest+html": PYPI_HTML,
  [TEXT_HTML]: TEXT_HTML,
};
/** Our preference when the client rates several formats equally. */
const PREFERENCE: SimpleFormat[] = [PYPI_JSON, PYPI_HTML, TEXT_HTML];

/**
 * PEP 691 content negotiation. Returns the format to serve, or null when the client accepts
 * none of ours (answer 406). No or empty Accept header: `text/html`, as PEP 691 recommends.
 */
export function negotiateSimpleFormat(accept: string | null | undefined): SimpleFormat | null {
  if (!accept || accept.trim() === "") return TEXT_HTML;
  const scores = new Map<SimpleFormat, number>();
  const rate = (f: SimpleFormat, q: number) => scores.set(f, Math.max(scores.get(f) ?? 0, q));
  for (const part of accept.split(",")) {
    const [rawType, ...params] = part.split(";").map((s) => s.trim());
    const type = (rawType ?? "").toLowerCase();
    let q = 1;
    for (const p of params) {
      const m = /^q=([0-9.]+)$/i.exec(p);
      if (m) q = Math.min(1, Math.max(0, Number(m[1])));
    }
    if (Number.isNaN(q) || q === 0) continue;
    // Wildcards get plain HTML (the most compatible form); explicit types win on equal q.
    if (type === "*/*" || type === "text/*") rate(TEXT_HTML, q - 0.0001);
    else if (type === "application/*") rate(PYPI_JSON, q - 0.0001);
    else {
      const f = ALIASES[type];
      if (f) rate(f, q);
    }
  }
  let best: SimpleFormat | null = null;
  let bestQ = 0;
  for (const f of PREFERENCE) {
    const q = scores.get(f) ?? 0;
    if (q > bestQ) {
      best = f;
      bestQ = q;
    }
  }
  return best;
}

/** Escape text for an HTML element body or a double-quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const HTML_HEAD = (title: string) =>
  `<!DOCTYPE html>\n<html>\n<head>\n<meta name="pypi:repository-version" content="1.1">\n<title>${escapeHtml(title)}</title>\n</head>\n<body>\n`;

/** The root page: one link per project (PEP 503). `projects` are normalised names. */
export function renderRootHtml(projects: string[]): string {
  const links = projects
    .map((p) => `<a href="${escapeHtml(encodeURIComponent(p))}/">${escapeHtml(p)}</a><br>\n`)
    .join("");
  return `${HTML_HEAD("Simple index")}${links}</body>\n</html>\n`;
}

export function renderRootJson(projects: string[]): string {
  return JSON.stringify({ meta: { "api-version": "1.1" }, projects: projects.map((name) => ({ name })) });
}

/** A project page (PEP 503 + 592 yanking + 658/714 metadata + `data-requires-python`). */
export function renderProjectHtml(project: string, files: IndexFile[]): string {
  const links = files
    .map((f) => {
      const attrs = [`href="${escapeHtml(`${f.url}#sha256=${f.sha256}`)}"`];
      if (f.requiresPython !== null) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
      if (f.metadataSha256 !== null) {
        attrs.push(`data-dist-info-metadata="sha256=${f.metadataSha256}"`);
        attrs.push(`data-core-metadata="sha256=${f.metadataSha256}"`);
      }
      if (f.yanked !== false) attrs.push(`data-yanked="${escapeHtml(f.yanked)}"`);
      return `<a ${attrs.join(" ")}>${escapeHtml(f.filename)}</a><br>\n`;
    })
    .join("");
  return `${HTML_HEAD(`Links for ${project}`)}<h1>Links for ${escapeHtml(project)}</h1>\n${links}</body>\n</html>\n`;
}

/** A project page as PEP 691 JSON (api-version 1.1: `versions`, `size`, `upload-time`). */
export function renderProjectJson(project: string, files: IndexFile[]): string {
  const versions = [...new Set(files.map((f) => f.version))];
  return JSON.stringify({
    meta: { "api-version": "1.1" },
    name: project,
    versions,
    files: files.map((f) => {
      const out: Record<string, unknown> = {
        filename: f.filename,
        url: f.url,
        hashes: { sha256: f.sha256 },
        "requires-python": f.requiresPython,
        size: f.size,
        "upload-time": f.uploadTime,
        yanked: f.yanked === false ? false : f.yanked === "" ? true : f.yanked,
      };
      if (f.metadataSha256 !== null) {
        // PEP 714: JSON carries only `core-metadata`. pip < 23.2 (e.g. Debian bookworm's 23.0.1)
        // crashes on the dict form of the legacy `dist-info-metadata` key ("unhashable type:
        // 'dict'"); without it those clients simply download the wheel.
        out["core-metadata"] = { sha256: f.metadataSha256 };
      }
      return out;
    }),
  });
}
