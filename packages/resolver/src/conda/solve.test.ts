import { serveCondaChannel } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { isResolverError } from "../errors";
import { httpCondaChannel } from "./channel";
import { parseRepodata } from "./record";
import { defaultCondaSemantics } from "./semantics";
import { solveConda, solveCondaRecords } from "./solve";
import { verifyCondaSolution } from "./verify";

type Rec = {
  name: string;
  version: string;
  build: string;
  build_number?: number;
  depends?: string[];
  constrains?: string[];
  track_features?: string;
  timestamp?: number;
  sha256?: string;
};
const doc = (subdir: string, recs: Rec[]) =>
  JSON.stringify({
    info: { subdir },
    packages: Object.fromEntries(
      recs.map((r) => [
        `${r.name}-${r.version}-${r.build}.tar.bz2`,
        { build_number: 0, depends: [], md5: "0".repeat(32), ...r },
      ]),
    ),
  });
const recs = (ch: string, subdir: string, list: Rec[]) =>
  parseRepodata(doc(subdir, list), { channel: ch, subdir });

const main: Rec[] = [
  { name: "python", version: "3.11.9", build: "h0_0", depends: ["libgcc >=11"] },
  { name: "python", version: "3.12.1", build: "h0_0", depends: ["libgcc >=11"] },
  { name: "python", version: "3.12.1", build: "h0_1", build_number: 1, depends: ["libgcc >=11"] },
  { name: "libgcc", version: "11.2.0", build: "0", depends: ["__glibc >=2.17"] },
  { name: "libgcc", version: "13.2.0", build: "0", depends: ["__glibc >=2.34"] },
  { name: "numpy", version: "1.26.4", build: "py311_0", depends: ["python >=3.11,<3.12", "blas * openblas"] },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13", "blas * openblas"] },
  {
    name: "numpy",
    version: "2.0.0",
    build: "py312_0",
    depends: ["python >=3.12,<3.13", "blas"],
    constrains: ["scipy >=1.13"],
  },
  { name: "blas", version: "1.0", build: "mkl", track_features: "blas_mkl" },
  { name: "blas", version: "1.0", build: "openblas" },
  { name: "scipy", version: "1.11.0", build: "py312_0", depends: ["python >=3.12,<3.13", "numpy <2"] },
  { name: "scipy", version: "1.13.0", build: "py312_0", depends: ["python >=3.12,<3.13", "numpy"] },
];

const solve = (specs: string[], extra: Partial<Parameters<typeof solveCondaRecords>[0]> = {}) =>
  solveCondaRecords({
    channels: [recs("https://c.example/main", "linux-64", main)],
    specs,
    subdir: "linux-64",
    semantics: defaultCondaSemantics,
    ...extra,
  });
const names = (rs: { name: string; version: string; build: string }[]) =>
  rs.map((r) => `${r.name}-${r.version}-${r.build}`).sort();

describe("conda solve (fixture channel)", () => {
  it("chooses newest version and highest build, and respects __glibc", async () => {
    const out = await solve(["python"]);
    expect(names(out.records)).toEqual(["libgcc-11.2.0-0", "python-3.12.1-h0_1"]);
    const newer = await solve(["python"], { virtualPackages: { glibc: "2.35" } });
    expect(names(newer.records)).toContain("libgcc-13.2.0-0");
  });

  it("de-prioritises track_features and applies constrains", async () => {
    const out = await solve(["numpy", "scipy"]);
    expect(names(out.records)).toEqual([
      "blas-1.0-openblas",
      "libgcc-11.2.0-0",
      "numpy-2.0.0-py312_0",
      "python-3.12.1-h0_1",
      "scipy-1.13.0-py312_0",
    ]);
    const pinned = await solve(["numpy", "scipy 1.11.*"]);
    expect(names(pinned.records)).toContain("numpy-1.26.4-py312_0");
    expect(
      verifyCondaSolution({
        records: pinned.records,
        specs: ["numpy", "scipy 1.11.*"],
        subdir: "linux-64",
        semantics: defaultCondaSemantics,
      }).problems,
    ).toEqual([]);
  });

  it("backtracks to an older python when a pin needs it, and lists dependencies first", async () => {
    const out = await solve(["numpy 1.26.*", "python <3.12"]);
    const order = out.records.map((r) => r.name);
    expect(names(out.records)).toContain("numpy-1.26.4-py311_0");
    expect(order.indexOf("python")).toBeLessThan(order.indexOf("numpy"));
  });

  it("explains an unsatisfiable request with the chain of requirements", async () => {
    try {
      await solve(["numpy >=2", "python 3.11.*"]);
      expect.unreachable();
    } catch (e) {
      expect(isResolverError(e) && e.code).toBe("E_UNSATISFIABLE");
      const text = (e as { explanation: string[] }).explanation.join("\n");
      expect(text).toContain("you asked for numpy >=2");
      expect(text).toContain("you asked for python 3.11.*");
      expect(text).toContain("numpy-2.0.0-py312_0 requires python >=3.12,<3.13");
    }
    await expect(solve(["tensorflow"])).rejects.toThrow(/no package in the channels matches/);
  });

  it("strict channel priority hides lower-priority channels for a name; flexible prefers the first", async () => {
    const high = recs("https://c.example/high", "linux-64", [
      { name: "blas", version: "0.9", build: "openblas" },
    ]);
    const low = recs("https://c.example/main", "linux-64", main);
    const strict = await solveCondaRecords({
      channels: [high, low],
      specs: ["blas >=1"],
      subdir: "linux-64",
      semantics: defaultCondaSemantics,
      channelPriority: "strict",
    }).catch((e) => e);
    expect(isResolverError(strict) && strict.code).toBe("E_UNSATISFIABLE");
    const flexible = await solveCondaRecords({
      channels: [high, low],
      specs: ["blas"],
      subdir: "linux-64",
      semantics: defaultCondaSemantics,
    });
    expect(flexible.records[0]?.channel).toBe("https://c.example/high");
    const fallback = await solveCondaRecords({
      channels: [high, low],
      specs: ["blas >=1"],
      subdir: "linux-64",
      semantics: defaultCondaSemantics,
    });
    expect(names(fallback.records)).toEqual(["blas-1.0-openblas"]);
  });

  it("is a drop-in over an HTTP channel (subdir + noarch)", async () => {
    const s = await serveCondaChannel({
      files: {
        "linux-64/repodata.json": doc("linux-64", main),
        "noarch/repodata.json": doc("noarch", [
          { name: "tqdm", version: "4.66.0", build: "pyhd_0", depends: ["python >=3.8"] },
        ]),
      },
    });
    const out = await solveConda({
      channels: [httpCondaChannel(s.url)],
      specs: ["tqdm", "python 3.11.*"],
      subdir: "linux-64",
      semantics: defaultCondaSemantics,
    });
    expect(names(out.records)).toEqual(["libgcc-11.2.0-0", "python-3.11.9-h0_0", "tqdm-4.66.0-pyhd_0"]);
    expect(out.records.find((r) => r.name === "tqdm")?.url).toBe(
      `${s.url}/noarch/tqdm-4.66.0-pyhd_0.tar.bz2`,
    );
    await s.close();
  });

  it("returns records that keep their fields after later solves reuse the response buffers", async () => {
    // two channels whose repodata has the same length but other hashes and dependencies, so a
    // later solve reuses the first one's response buffer (record.test.ts checks detach itself)
    const channelWith = (digit: string, dep: string) =>
      serveCondaChannel({
        files: {
          "linux-64/repodata.json": doc("linux-64", [
            { name: "a", version: "1.0", build: "0", depends: [dep], sha256: digit.repeat(64) },
            { name: dep, version: "1.0", build: "0", depends: [], sha256: digit.repeat(64) },
          ]),
        },
      });
    const one = await channelWith("1", "b");
    const two = await channelWith("2", "c");
    try {
      const solve = (url: string) =>
        solveConda({
          channels: [httpCondaChannel(url)],
          specs: ["a"],
          subdir: "linux-64",
          semantics: defaultCondaSemantics,
        });
      const first = await solve(one.url);
      for (let i = 0; i < 3; i++) await solve(two.url);
      const a = first.records.find((r) => r.name === "a");
      expect([a?.sha256, a?.depends, a?.buildNumber, a?.fn]).toEqual([
        "1".repeat(64),
        ["b"],
        0,
        "a-1.0-0.tar.bz2",
      ]);
      expect(names(first.records).sort()).toEqual(["a-1.0-0", "b-1.0-0"]);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("tries current_repodata.json first and falls back to the full repodata", async () => {
    const s = await serveCondaChannel({
      files: {
        "linux-64/repodata.json": doc("linux-64", main),
        "linux-64/current_repodata.json": doc(
          "linux-64",
          main.filter((r) => r.name !== "python" || r.version === "3.12.1"),
        ),
      },
    });
    const run = (specs: string[]) =>
      solveConda({
        channels: [httpCondaChannel(s.url)],
        specs,
        subdir: "linux-64",
        semantics: defaultCondaSemantics,
        currentRepodata: true,
      });
    expect(names((await run(["python"])).records)).toContain("python-3.12.1-h0_1");
    expect(s.requests.map((r) => r.path.split("/").slice(-2).join("/"))).toEqual([
      "linux-64/current_repodata.json",
      "noarch/current_repodata.json",
      "noarch/repodata.json",
    ]);
    expect(names((await run(["python 3.11.*"])).records)).toContain("python-3.11.9-h0_0");
    expect(s.requests.some((r) => r.path.endsWith("linux-64/repodata.json"))).toBe(true);
    await s.close();
  });
});
