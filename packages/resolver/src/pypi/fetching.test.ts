/**
 * How the pip resolver talks to an index: project pages and PEP 658 metadata are fetched ahead
 * of the solver and concurrently, each at most once, never more than `concurrency` at a time.
 */
import { buildWheel, type IndexFile, servePypiIndex } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { httpPypiIndex } from "./index";
import { indexCandidateSource, resolvePip } from "./resolve";
import { defaultPipSemantics } from "./semantics";

const w = (name: string, version: string, requiresDist: string[] = []): IndexFile => ({
  wheel: buildWheel({ name, version, requiresDist, level: 0 }),
});

// app needs ten libraries; each library's newest release needs a common base below its newest
const libs = Array.from({ length: 10 }, (_, i) => `lib-${i}`);
const projects: Record<string, IndexFile[]> = {
  app: [
    w(
      "app",
      "1.0",
      libs.map((l) => `${l}>=1`),
    ),
  ],
  base: [w("base", "1.0"), w("base", "2.0"), w("base", "3.0")],
  ...Object.fromEntries(libs.map((l) => [l, [w(l, "1.0", ["base"]), w(l, "2.0", ["base<3"])]])),
};

const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** A real fetch that waits `ms` before each request and records how many were in flight. */
function slowFetch(ms: number) {
  const seen = { inFlight: 0, most: 0, metadataInFlight: 0, mostMetadata: 0 };
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const metadata = String(input).endsWith(".metadata");
    seen.inFlight++;
    seen.most = Math.max(seen.most, seen.inFlight);
    if (metadata) seen.metadataInFlight++;
    seen.mostMetadata = Math.max(seen.mostMetadata, seen.metadataInFlight);
    try {
      await new Promise((r) => setTimeout(r, ms));
      const res = await fetch(input, init);
      await res.clone().arrayBuffer();
      return res;
    } finally {
      seen.inFlight--;
      if (metadata) seen.metadataInFlight--;
    }
  }) as typeof fetch;
  return { fetch: f, seen };
}

async function lock(options: { concurrency?: number; fetch?: typeof fetch }) {
  const s = await servePypiIndex({ projects });
  servers.push(s);
  const target = { python: "3.12.1", platform: "linux-64" };
  const out = await resolvePip({
    requirements: ["app"],
    source: indexCandidateSource(httpPypiIndex(s.url, options), target),
    target,
    semantics: defaultPipSemantics,
  });
  return { packages: Object.fromEntries(out.packages.map((p) => [p.name, p.version])), requests: s.requests };
}

describe("fetching from a pip index", () => {
  it("fetches each project page and each release's metadata once, ahead of the solver and concurrently", async () => {
    const slow = slowFetch(20);
    const { packages, requests } = await lock({ fetch: slow.fetch });
    expect(packages).toEqual({ app: "1.0", base: "2.0", ...Object.fromEntries(libs.map((l) => [l, "2.0"])) });
    const paths = requests.map((r) => r.path);
    expect(new Set(paths).size).toBe(paths.length);
    // only metadata (PEP 658) is read, never a wheel
    expect(paths.filter((p) => p.endsWith(".whl"))).toEqual([]);
    // the ten libraries' pages, then their newest releases' metadata, are fetched side by side
    expect(slow.seen.most).toBeGreaterThanOrEqual(10);
    expect(slow.seen.mostMetadata).toBeGreaterThanOrEqual(5);
  });

  it("keeps at most `concurrency` requests in flight and resolves the same", async () => {
    const slow = slowFetch(5);
    const { packages } = await lock({ fetch: slow.fetch, concurrency: 3 });
    expect(slow.seen.most).toBe(3);
    expect(packages.base).toBe("2.0");
  });

  it("resolves over node:http by default (no fetch option)", async () => {
    const { packages, requests } = await lock({});
    expect(packages.app).toBe("1.0");
    expect(requests.every((r) => r.status === 200)).toBe(true);
  });
});
