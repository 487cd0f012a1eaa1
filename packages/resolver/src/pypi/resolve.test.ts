import { buildWheel, type IndexFile, servePypiIndex } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { isResolverError } from "../errors";
import { httpPypiIndex } from "./index";
import { indexCandidateSource, resolvePip } from "./resolve";
import { defaultPipSemantics } from "./semantics";
import { compatibleTags } from "./tags";

const w = (
  name: string,
  version: string,
  requiresDist: string[] = [],
  extra: Partial<IndexFile> = {},
  tags?: { python?: string; abi?: string; platform?: string },
): IndexFile => ({
  wheel: buildWheel({
    name,
    version,
    requiresDist,
    level: 0,
    pythonTag: tags?.python ?? "py3",
    abiTag: tags?.abi ?? "none",
    platformTag: tags?.platform ?? "any",
  }),
  ...extra,
});

const projects: Record<string, IndexFile[]> = {
  app: [w("app", "1.0", ["lib>=1"]), w("app", "2.0", ["lib>=2", 'winonly ; sys_platform == "win32"'])],
  lib: [
    w("lib", "1.0"),
    w("lib", "2.0", ['extra-dep ; extra == "fast"']),
    w("lib", "3.0", [], { yanked: "broken" }),
    w("lib", "4.0b1"),
  ],
  "extra-dep": [w("extra-dep", "1.0")],
  pinned: [w("pinned", "1.0", ["lib<2"])],
  newpy: [w("newpy", "1.0"), w("newpy", "2.0", [], { requiresPython: ">=3.13" })],
  native: [
    w("native", "1.0"),
    w("native", "2.0", [], {}, { python: "cp312", abi: "cp312", platform: "manylinux_2_17_x86_64" }),
    w("native", "3.0", [], {}, { python: "cp312", abi: "cp312", platform: "macosx_11_0_arm64" }),
  ],
  onlypre: [w("onlypre", "1.0a1"), w("onlypre", "1.0a2")],
};

const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function resolve(
  requirements: string[],
  opts: { python?: string; platform?: string; provided?: Record<string, string> } = {},
) {
  const s = await servePypiIndex({ projects });
  servers.push(s);
  const target = { python: opts.python ?? "3.12.1", platform: opts.platform ?? "linux-64" };
  const out = await resolvePip({
    requirements,
    source: indexCandidateSource(httpPypiIndex(s.url), target),
    target,
    semantics: defaultPipSemantics,
    ...(opts.provided ? { provided: opts.provided } : {}),
  });
  return Object.fromEntries(out.packages.map((p) => [p.name, p.version]));
}

describe("pip resolution over a loopback index", () => {
  it("picks the newest stable, non-yanked versions and evaluates markers for the target", async () => {
    expect(await resolve(["app"])).toEqual({ app: "2.0", lib: "2.0" });
    // on Windows app 2.0 needs "winonly", which does not exist: back off to app 1.0
    expect(await resolve(["app"], { platform: "win-64" })).toEqual({ app: "1.0", lib: "2.0" });
  });

  it("installs a yanked version only for an exact root pin", async () => {
    expect((await resolve(["lib==3.0"])).lib).toBe("3.0");
    expect((await resolve(["lib>=3"])).lib).toBe("4.0b1"); // 3.0 yanked: the pre-release is the only fit
  });

  it("adds an extra's dependencies and backtracks through conflicts", async () => {
    expect(await resolve(["lib[fast]"])).toEqual({ lib: "2.0", "extra-dep": "1.0" });
    expect(await resolve(["app", "pinned"])).toEqual({ app: "1.0", lib: "1.0", pinned: "1.0" });
  });

  it("honours Requires-Python and wheel tags of the target", async () => {
    expect((await resolve(["newpy"])).newpy).toBe("1.0");
    expect((await resolve(["newpy"], { python: "3.13" })).newpy).toBe("2.0");
    expect((await resolve(["native"])).native).toBe("2.0");
    expect((await resolve(["native"], { platform: "osx-arm64" })).native).toBe("3.0");
    expect((await resolve(["onlypre"])).onlypre).toBe("1.0a2");
  });

  it("does not reinstall what conda already provides", async () => {
    expect(await resolve(["app"], { provided: { lib: "2.5" } })).toEqual({ app: "2.0" });
  });

  it("explains a conflict", async () => {
    const e = await resolve(["app>=2", "pinned"]).catch((x) => x);
    expect(isResolverError(e) && e.code).toBe("E_UNSATISFIABLE");
    const text = (e as { explanation: string[] }).explanation.join("\n");
    expect(text).toContain("you asked for app>=2");
    expect(text).toContain("pinned==1.0 requires lib<2");
  });

  it("generates CPython tags best first", () => {
    const tags = compatibleTags({ python: "3.12", platform: "linux-64", glibc: "2.17" });
    expect(tags[0]).toBe("cp312-cp312-manylinux_2_17_x86_64");
    expect(tags).toContain("cp38-abi3-manylinux2014_x86_64");
    expect(tags.at(-1)).toBe("py30-none-any");
    expect(tags.indexOf("py3-none-any")).toBeGreaterThan(tags.indexOf("cp312-none-any"));
  });
});
