import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWheel, makeTempDir, serveCondaChannel, servePypiIndex } from "@mlenv/test-utils";
import { useStarted } from "@mlenv/test-utils/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { type CondaChannel, httpCondaChannel, localCondaChannel } from "./conda/channel";
import { isResolverError } from "./errors";
import { httpPypiIndex, multiIndex, type PypiIndex } from "./pypi/index";

const repodata = (subdir: string, pkgs: Record<string, object>) =>
  JSON.stringify({ info: { subdir }, packages: pkgs, "packages.conda": {} });
const rec = (name: string, version: string, build: string, extra: object = {}) => ({
  name,
  version,
  build,
  build_number: 0,
  depends: [],
  md5: "0".repeat(32),
  sha256: "1".repeat(64),
  ...extra,
});
const channelFiles = {
  "linux-64/repodata.json": repodata("linux-64", {
    "numpy-1.26.4-py312_0.tar.bz2": rec("numpy", "1.26.4", "py312_0", { depends: ["python >=3.12,<3.13"] }),
    "python-3.12.1-h0_0.tar.bz2": rec("python", "3.12.1", "h0_0", { track_features: "" }),
  }),
  "noarch/repodata.json": repodata("noarch", {
    "tqdm-4.66.0-pyhd_0.tar.bz2": rec("tqdm", "4.66.0", "pyhd_0"),
  }),
};

/** The contract every conda channel implementation must honour. */
function condaChannelContract(label: string, make: () => Promise<CondaChannel>) {
  describe(`conda channel contract: ${label}`, () => {
    const ch = useStarted(label, make);
    it("lists the records of a subdir with URLs, hashes and depends", async () => {
      const recs = (await ch.records("linux-64")) ?? [];
      expect(recs.map((r) => `${r.name}-${r.version}-${r.build}`).sort()).toEqual([
        "numpy-1.26.4-py312_0",
        "python-3.12.1-h0_0",
      ]);
      const numpy = recs.find((r) => r.name === "numpy");
      expect(numpy?.depends).toEqual(["python >=3.12,<3.13"]);
      expect(numpy?.url).toBe(`${ch.url}/linux-64/numpy-1.26.4-py312_0.tar.bz2`);
      expect(numpy?.sha256).toBe("1".repeat(64));
      expect(numpy?.subdir).toBe("linux-64");
    });
    it("reads noarch, returns [] for a missing subdir and null for a missing current_repodata", async () => {
      expect((await ch.records("noarch"))?.map((r) => r.name)).toEqual(["tqdm"]);
      expect(await ch.records("osx-arm64")).toEqual([]);
      expect(await ch.records("linux-64", { current: true })).toBeNull();
    });
    it("refuses subdirs that could escape the channel", async () => {
      await expect(ch.records("../etc")).rejects.toSatisfy(
        (e) => isResolverError(e) && e.code === "E_PLATFORM_UNKNOWN",
      );
      if (ch.source) {
        await expect(ch.source("../etc")).rejects.toSatisfy(
          (e) => isResolverError(e) && e.code === "E_PLATFORM_UNKNOWN",
        );
      }
    });
    it("reads the same records by package name (what a solve reads)", async () => {
      const source = await ch.source?.("linux-64");
      expect(source).toBeTruthy();
      const python = source?.recordsOf("python") ?? [];
      expect(python.map((r) => [r.fn, r.version, r.build, r.trackFeatures, r.buildNumber])).toEqual([
        ["python-3.12.1-h0_0.tar.bz2", "3.12.1", "h0_0", [], 0],
      ]);
      expect(source?.recordsOf("numpy")[0]?.depends).toEqual(["python >=3.12,<3.13"]);
      expect(source?.recordsOf("scipy")).toEqual([]);
      expect(source?.all().map((r) => r.name)).toEqual((await ch.records("linux-64"))?.map((r) => r.name));
      expect((await ch.source?.("osx-arm64"))?.all()).toEqual([]);
      expect(await ch.source?.("linux-64", { current: true })).toBeNull();
    });
  });
}

const tmp = makeTempDir();
afterAll(() => tmp.cleanup());
const servers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

condaChannelContract("HTTP", async () => {
  const s = await serveCondaChannel({ files: channelFiles });
  servers.push(s);
  return httpCondaChannel(s.url, { cacheDir: join(tmp.path, "cache-contract") });
});
condaChannelContract("local folder", async () => {
  const dir = join(tmp.path, "local-channel");
  for (const [p, body] of Object.entries(channelFiles)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), body);
  }
  return localCondaChannel(dir);
});

describe("HTTP channel cache", () => {
  it("revalidates with ETag and serves 304s from disk, refetching when the repodata changes", async () => {
    const s = await serveCondaChannel({ files: channelFiles });
    servers.push(s);
    const cacheDir = join(tmp.path, "cache-etag");
    expect((await httpCondaChannel(s.url, { cacheDir }).records("linux-64"))?.length).toBe(2);
    // a fresh client object with the same cache folder revalidates and gets a 304
    expect((await httpCondaChannel(s.url, { cacheDir }).records("linux-64"))?.length).toBe(2);
    const statuses = s.requests.filter((r) => r.path.endsWith("linux-64/repodata.json")).map((r) => r.status);
    expect(statuses).toEqual([200, 304]);
    s.setFile(
      "linux-64/repodata.json",
      repodata("linux-64", { "zlib-1.3-0.tar.bz2": rec("zlib", "1.3", "0") }),
    );
    expect((await httpCondaChannel(s.url, { cacheDir }).records("linux-64"))?.map((r) => r.name)).toEqual([
      "zlib",
    ]);
  });
});

describe("HTTP channel cache index", () => {
  // numpy in both formats (the .conda one wins), neighbours merged into spans, an escaped name
  const doc = JSON.stringify({
    info: { subdir: "linux-64" },
    packages: {
      "numpy-1.26.4-py312_0.tar.bz2": rec("numpy", "1.26.4", "py312_0", { sha256: "2".repeat(64) }),
      "numpy-1.26.3-py312_0.tar.bz2": rec("numpy", "1.26.3", "py312_0"),
      "python-3.12.1-h0_0.tar.bz2": rec("python", "3.12.1", "h0_0"),
      "zlib-1.3-0.tar.bz2": rec("zlib", "1.3", "0"),
      "numpy-1.25.0-py311_0.tar.bz2": rec("numpy", "1.25.0", "py311_0"),
      "t\\u00e9st-1.0-0.tar.bz2": rec("t\\u00e9st", "1.0", "0"),
    },
    "packages.conda": {
      "numpy-1.26.4-py312_0.conda": rec("numpy", "1.26.4", "py312_0", { depends: ["python >=3.12"] }),
    },
  }).replace(/\\\\u00e9/g, "\\u00e9");
  const view = (
    rs: readonly { fn: string; version: string; depends: string[]; sha256?: string | undefined }[],
  ) => rs.map((r) => [r.fn, r.version, r.depends.join(","), r.sha256]);

  it("a warm source reads only the records of the names asked for, through the index", async () => {
    const s = await serveCondaChannel({ files: { "linux-64/repodata.json": doc } });
    servers.push(s);
    const cacheDir = join(tmp.path, "cache-index");
    const cold = await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    const want = view(cold?.recordsOf("numpy") ?? []);
    expect(want.map((r) => r[0])).toEqual([
      "numpy-1.26.4-py312_0.conda",
      "numpy-1.26.3-py312_0.tar.bz2",
      "numpy-1.25.0-py311_0.tar.bz2",
    ]);
    const files = readdirSync(cacheDir);
    const body = join(cacheDir, files.find((f) => /^[0-9a-f]+\.json$/.test(f)) as string);
    expect(files.some((f) => f.endsWith(".index.json"))).toBe(true);
    // spoil python's record in the cached body (same length): reading the body whole would fail
    const bytes = readFileSync(body, "latin1");
    const at = bytes.indexOf('"python-3.12.1');
    writeFileSync(body, bytes.slice(0, at) + "#".repeat(40) + bytes.slice(at + 40), "latin1");
    const warm = await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    expect(s.requests.map((r) => r.status)).toEqual([200, 304]);
    expect(view(warm?.recordsOf("numpy") ?? [])).toEqual(want);
    expect(warm?.recordsOf("zlib").map((r) => r.version)).toEqual(["1.3"]);
    expect(warm?.recordsOf("t\u00e9st").map((r) => r.version)).toEqual(["1.0"]);
    expect(warm?.recordsOf("scipy")).toEqual([]);
    expect(() => warm?.recordsOf("python")).toThrow();
  });

  it("ignores an index that does not match the cached body, and rebuilds it on a new body", async () => {
    const s = await serveCondaChannel({ files: { "linux-64/repodata.json": doc } });
    servers.push(s);
    const cacheDir = join(tmp.path, "cache-index2");
    await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    const files = readdirSync(cacheDir);
    const body = join(cacheDir, files.find((f) => /^[0-9a-f]+\.json$/.test(f)) as string);
    // the body grew (edited by hand): the index's spans no longer apply, the body is read whole
    writeFileSync(body, `${readFileSync(body, "utf8")}\n`);
    const warm = await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    expect(warm?.recordsOf("numpy").length).toBe(3);
    s.setFile(
      "linux-64/repodata.json",
      repodata("linux-64", { "zlib-1.4-0.tar.bz2": rec("zlib", "1.4", "0") }),
    );
    await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    const again = await httpCondaChannel(s.url, { cacheDir }).source?.("linux-64");
    expect(again?.recordsOf("zlib").map((r) => r.version)).toEqual(["1.4"]);
    expect(again?.recordsOf("numpy")).toEqual([]);
    expect(s.requests.map((r) => r.status)).toEqual([200, 304, 200, 304]);
  });
});

/** The contract every PyPI-compatible index implementation must honour. */
function pypiIndexContract(label: string, make: () => Promise<PypiIndex>) {
  describe(`pypi index contract: ${label}`, () => {
    const ix = useStarted(label, make);
    it("lists files with sha256, requires-python and yanked flags, by normalised name", async () => {
      const files = (await ix.files("My_Pkg")) ?? [];
      expect(files.map((f) => f.filename).sort()).toEqual([
        "my_pkg-1.0-py3-none-any.whl",
        "my_pkg-2.0-py3-none-any.whl",
      ]);
      const v2 = files.find((f) => f.filename.includes("-2.0-"));
      expect(v2?.yanked).toBe("broken");
      expect(v2?.requiresPython).toBe(">=3.8,<4");
      expect(v2?.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(files.find((f) => f.filename.includes("-1.0-"))?.yanked).toBe(false);
      expect(await ix.files("does-not-exist")).toBeNull();
    });
    it("reads METADATA via PEP 658 and, without it, from the wheel itself", async () => {
      const files = (await ix.files("my-pkg")) ?? [];
      for (const f of files) {
        const meta = await ix.metadata(f);
        expect(meta).toMatch(/^Name: my-pkg$/m);
        expect(meta).toContain("Requires-Dist: dep>=1");
      }
      expect(files.some((f) => f.coreMetadata)).toBe(true);
      expect(files.some((f) => !f.coreMetadata)).toBe(true);
    });
  });
}

const w1 = buildWheel({ name: "my-pkg", version: "1.0", requiresDist: ["dep>=1"] });
const w2 = buildWheel({ name: "my-pkg", version: "2.0", requiresDist: ["dep>=1"] });
const projects = {
  "my-pkg": [
    { wheel: w1, coreMetadata: false },
    { wheel: w2, yanked: "broken", requiresPython: ">=3.8,<4" },
  ],
};
for (const format of ["json", "html"] as const) {
  pypiIndexContract(format === "json" ? "PEP 691 JSON" : "PEP 503 HTML", async () => {
    const s = await servePypiIndex({ projects, format });
    servers.push(s);
    return httpPypiIndex(s.url);
  });
}

describe("several indexes", () => {
  it("first-index keeps a private project from being shadowed; best-match merges", async () => {
    const priv = await servePypiIndex({ projects: { "my-pkg": [{ wheel: w1 }] } });
    const pub = await servePypiIndex({ projects: { "my-pkg": [{ wheel: w2 }], other: [{ wheel: w1 }] } });
    servers.push(priv, pub);
    const first = multiIndex([httpPypiIndex(priv.url), httpPypiIndex(pub.url)]);
    expect((await first.files("my-pkg"))?.map((f) => f.filename)).toEqual([w1.filename]);
    expect((await first.files("other"))?.length).toBe(1);
    const best = multiIndex([httpPypiIndex(priv.url), httpPypiIndex(pub.url)], "best-match");
    expect((await best.files("my-pkg"))?.map((f) => f.filename).sort()).toEqual([w1.filename, w2.filename]);
    const f2 = (await best.files("my-pkg"))?.find((f) => f.filename === w2.filename);
    expect(await best.metadata(f2 as NonNullable<typeof f2>)).toContain("Version: 2.0");
  });
});
