import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type BuiltWheel, buildWheel } from "./wheel";

/** One file of a project on the test index. */
export interface IndexFile {
  /** A real wheel from buildWheel() (or any bytes with a filename, e.g. an sdist). */
  wheel: Pick<BuiltWheel, "filename" | "bytes"> & { metadata?: string };
  /** PEP 592: true or a reason string. */
  yanked?: boolean | string;
  /** `data-requires-python` / `requires-python`. */
  requiresPython?: string;
  /** Serve PEP 658 metadata (`<file>.metadata`) when the wheel's METADATA is known. Default true. */
  coreMetadata?: boolean;
}

export interface PypiIndexServer {
  /** The simple index URL, e.g. `http://127.0.0.1:4321/simple`. */
  url: string;
  requests: { path: string; accept: string; status: number }[];
  close(): Promise<void>;
}

export interface PypiIndexOptions {
  /** project name (any spelling) → files */
  projects: Record<string, IndexFile[]>;
  /** Which API to answer with: PEP 691 JSON, PEP 503 HTML, or negotiate by Accept (default). */
  format?: "json" | "html" | "negotiate";
}

const norm = (n: string) => n.toLowerCase().replace(/[-_.]+/g, "-");
const esc = (s: string) =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");

/**
 * Projects of plain wheels (see buildWheel) for {@link PypiIndexOptions}: each name with one
 * wheel per version given, e.g. `wheelProjects({ demo: ["1.0", "1.1"] })`.
 */
export function wheelProjects(versions: Record<string, string[]>): Record<string, IndexFile[]> {
  return Object.fromEntries(
    Object.entries(versions).map(([name, vs]) => [
      name,
      vs.map((version) => ({ wheel: buildWheel({ name, version }) })),
    ]),
  );
}

/**
 * A loopback PEP 503 / PEP 691 simple index serving the given files, with PEP 658 metadata,
 * PEP 592 yanking and `requires-python`, for resolver tests and benchmarks.
 */
export async function servePypiIndex(options: PypiIndexOptions): Promise<PypiIndexServer> {
  const projects = new Map<string, { display: string; files: IndexFile[] }>();
  for (const [name, files] of Object.entries(options.projects))
    projects.set(norm(name), { display: name, files });
  const byFile = new Map<string, IndexFile>();
  for (const p of projects.values()) for (const f of p.files) byFile.set(f.wheel.filename, f);
  const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
  const requests: PypiIndexServer["requests"] = [];
  const format = options.format ?? "negotiate";

  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    const accept = String(req.headers.accept ?? "");
    const send = (status: number, type: string, body: string | Uint8Array) => {
      requests.push({ path, accept, status });
      res
        .writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)) })
        .end(body);
    };
    const fileMatch = /^\/files\/([^/]+?)(\.metadata)?$/.exec(path);
    if (fileMatch) {
      const f = byFile.get(fileMatch[1] ?? "");
      if (!f) return send(404, "text/plain", "not found");
      if (fileMatch[2]) {
        if (f.coreMetadata === false || !f.wheel.metadata) return send(404, "text/plain", "no metadata");
        return send(200, "text/plain", f.wheel.metadata);
      }
      return send(200, "application/octet-stream", f.wheel.bytes);
    }
    const m = /^\/simple\/([^/]+)\/?$/.exec(path);
    const wantsJson =
      format === "json" || (format === "negotiate" && accept.includes("application/vnd.pypi.simple.v1+json"));
    if (path === "/simple/" || path === "/simple") {
      if (wantsJson) {
        const body = JSON.stringify({
          meta: { "api-version": "1.1" },
          projects: [...projects.values()].map((p) => ({ name: p.display })),
        });
        return send(200, "application/vnd.pypi.simple.v1+json", body);
      }
      const links = [...projects.keys()].map((n) => `<a href="/simple/${n}/">${esc(n)}</a>`).join("\n");
      return send(200, "text/html", `<!DOCTYPE html><html><body>\n${links}\n</body></html>`);
    }
    const project = m ? projects.get(norm(m[1] ?? "")) : undefined;
    if (!project) return send(404, "text/plain", "not found");
    if (wantsJson) {
      const body = JSON.stringify({
        meta: { "api-version": "1.1" },
        name: norm(project.display),
        files: project.files.map((f) => {
          const o: Record<string, unknown> = {
            filename: f.wheel.filename,
            url: `/files/${f.wheel.filename}`,
            hashes: { sha256: sha(f.wheel.bytes) },
          };
          if (f.requiresPython) o["requires-python"] = f.requiresPython;
          if (f.yanked) o.yanked = f.yanked;
          if (f.coreMetadata !== false && f.wheel.metadata)
            o["core-metadata"] = { sha256: sha(f.wheel.metadata) };
          return o;
        }),
      });
      return send(200, "application/vnd.pypi.simple.v1+json", body);
    }
    const links = project.files.map((f) => {
      const attrs = [`href="../../files/${esc(f.wheel.filename)}#sha256=${sha(f.wheel.bytes)}"`];
      if (f.requiresPython) attrs.push(`data-requires-python="${esc(f.requiresPython)}"`);
      if (f.yanked) attrs.push(`data-yanked="${esc(typeof f.yanked === "string" ? f.yanked : "")}"`);
      if (f.coreMetadata !== false && f.wheel.metadata)
        attrs.push(`data-core-metadata="sha256=${sha(f.wheel.metadata)}"`);
      return `<a ${attrs.join(" ")}>${esc(f.wheel.filename)}</a><br/>`;
    });
    return send(
      200,
      "text/html",
      `<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1"></head><body>\n${links.join("\n")}\n</body></html>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
