/** The pages of the UI, addressed by the URL hash (so the server serves only `/`). */
export type Route =
  | { page: "list" }
  | { page: "new" }
  | { page: "env"; name: string; version: number | null }
  | { page: "diff"; name: string; from: number; to: number }
  | { page: "build"; id: string }
  | { page: "runs" }
  | { page: "run"; id: string }
  | { page: "services" }
  | { page: "service"; name: string }
  | { page: "missing"; hash: string };

const seg = (s: string) => encodeURIComponent(s);

export const href = {
  list: () => "#/",
  create: () => "#/new",
  env: (name: string, version?: number) => `#/env/${seg(name)}${version ? `/v/${version}` : ""}`,
  diff: (name: string, from: number, to: number) => `#/env/${seg(name)}/diff/${from}/${to}`,
  build: (id: string) => `#/builds/${seg(id)}`,
  runs: () => "#/runs",
  run: (id: string) => `#/runs/${seg(id)}`,
  services: () => "#/services",
  service: (name: string) => `#/services/${seg(name)}`,
};

function positive(s: string | undefined): number | null {
  if (!s || !/^[1-9][0-9]{0,8}$/.test(s)) return null;
  return Number(s);
}

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "") || "/";
  if (path === "/" || path === "") return { page: "list" };
  if (path === "/new") return { page: "new" };
  if (path === "/runs") return { page: "runs" };
  if (path === "/services") return { page: "services" };
  const parts = path.split("/").slice(1);
  if ((parts[0] === "builds" || parts[0] === "runs") && parts[1] && parts.length === 2) {
    const id = decode(parts[1]);
    if (id !== null && /^[A-Za-z0-9_-]{1,100}$/.test(id)) {
      return parts[0] === "builds" ? { page: "build", id } : { page: "run", id };
    }
  }
  if (parts[0] === "services" && parts[1] && parts.length === 2) {
    const name = decode(parts[1]);
    if (name !== null) return { page: "service", name };
  }
  if (parts[0] === "env" && parts[1]) {
    const name = decode(parts[1]);
    if (name !== null) {
      if (parts.length === 2) return { page: "env", name, version: null };
      if (parts.length === 4 && parts[2] === "v") {
        const v = positive(parts[3]);
        if (v) return { page: "env", name, version: v };
      }
      if (parts.length === 5 && parts[2] === "diff") {
        const from = positive(parts[3]);
        const to = positive(parts[4]);
        if (from && to) return { page: "diff", name, from, to };
      }
    }
  }
  return { page: "missing", hash: path };
}
