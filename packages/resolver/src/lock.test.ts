import { join } from "node:path";
import {
  parseDefinition,
  parseLock,
  renderCondaExplicit,
  renderPipRequirements,
  serializeLock,
} from "@mlenv/core";
import {
  buildWheel,
  localCondaDefinition,
  makeTempDir,
  serveCondaChannel,
  servePypiIndex,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CondaChannel, condaChannel } from "./conda/channel";
import { isResolverError } from "./errors";
import { checkLock, lockEnvironment, outdated } from "./lock";

const doc = (subdir: string, recs: Record<string, unknown>[]) =>
  JSON.stringify({
    info: { subdir },
    packages: Object.fromEntries(
      recs.map((r) => [
        `${r.name}-${r.version}-${r.build}.tar.bz2`,
        { build_number: 0, depends: [], md5: "a".repeat(32), sha256: "b".repeat(64), ...r },
      ]),
    ),
  });
const linux = [
  { name: "python", version: "3.12.1", build: "h0_0" },
  { name: "python", version: "3.11.9", build: "h0_0" },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13"] },
];
const noarch = [{ name: "pip", version: "24.0", build: "pyhd_0", depends: ["python >=3.8"] }];

const tmp = makeTempDir();
let channel: Awaited<ReturnType<typeof serveCondaChannel>>;
let index: Awaited<ReturnType<typeof servePypiIndex>>;
beforeAll(async () => {
  channel = await serveCondaChannel({
    files: {
      "linux-64/repodata.json": doc("linux-64", linux),
      "noarch/repodata.json": doc("noarch", noarch),
    },
  });
  index = await servePypiIndex({
    projects: {
      tqdm: [
        {
          wheel: buildWheel({
            name: "tqdm",
            version: "4.66.4",
            requiresDist: ['colorama ; platform_system == "Windows"'],
          }),
        },
      ],
      beta: [
        { wheel: buildWheel({ name: "beta", version: "1.0" }) },
        { wheel: buildWheel({ name: "beta", version: "2.0b1" }) },
      ],
      "uses-numpy": [
        { wheel: buildWheel({ name: "uses-numpy", version: "1.0", requiresDist: ["numpy>=1.20", "tqdm"] }) },
      ],
    },
  });
});
afterAll(async () => {
  await channel.close();
  await index.close();
  tmp.cleanup();
});

const definition = (deps: string[]) =>
  parseDefinition(
    localCondaDefinition("train", [...deps, { pip: [`--index-url ${index.url}`, "uses-numpy"] }], {
      channels: [channel.url],
    }),
  );

describe("lockEnvironment", () => {
  it("fetches the pip block's project pages while conda is still solving", async () => {
    const asked = () => index.requests.some((r) => r.path.startsWith("/simple/uses-numpy"));
    let askedBeforeConda = false;
    // a real channel that answers only once the index has been asked for the pip requirement
    const gated = (location: string): CondaChannel => {
      const real = condaChannel(location, { cacheDir: join(tmp.path, "cache-gated") });
      return {
        kind: "conda",
        url: real.url,
        records: async (subdir, o) => {
          for (let i = 0; i < 200 && !asked(); i++) await new Promise((r) => setTimeout(r, 10));
          askedBeforeConda = asked();
          return real.records(subdir, o);
        },
      };
    };
    const lock = await lockEnvironment(definition(["python=3.12", "numpy", "pip"]), { channel: gated });
    expect(askedBeforeConda).toBe(true);
    expect(lock.platforms["linux-64"]?.pip.map((x) => x.name)).toEqual(["tqdm", "uses-numpy"]);
  });

  it("locks conda then pip against conda's python, without reinstalling conda packages", async () => {
    const def = definition(["python=3.12", "numpy", "pip"]);
    const lock = await lockEnvironment(def, { cacheDir: join(tmp.path, "cache") });
    const p = lock.platforms["linux-64"];
    expect(p?.conda.map((c) => `${c.name}=${c.version}`)).toEqual([
      "numpy=1.26.4",
      "pip=24.0",
      "python=3.12.1",
    ]);
    expect(p?.conda.find((c) => c.name === "pip")?.url).toBe(`${channel.url}/noarch/pip-24.0-pyhd_0.tar.bz2`);
    expect(p?.pip.map((x) => `${x.name}==${x.version}`)).toEqual(["tqdm==4.66.4", "uses-numpy==1.0"]);
    expect(p?.pip[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    // the lock file round-trips and renders
    const text = serializeLock(lock);
    expect(parseLock(text)).toEqual(lock);
    expect(renderCondaExplicit(lock, "linux-64")).toContain(
      `${channel.url}/linux-64/numpy-1.26.4-py312_0.tar.bz2#${"a".repeat(32)}`,
    );
    expect(renderPipRequirements(lock, "linux-64")).toMatch(
      /^tqdm @ http:\/\/127\.0\.0\.1:\d+\/files\/tqdm-4\.66\.4-py3-none-any\.whl --hash=sha256:[0-9a-f]{64}$/m,
    );
    expect(checkLock(def, lock)).toEqual({ ok: true, reasons: [] });
    const changed = checkLock(definition(["python=3.12", "numpy>=1.26", "pip"]), lock);
    expect(changed.ok).toBe(false);
    expect(changed.reasons[0]).toContain("definition changed");
    expect(checkLock(def, lock, ["linux-64", "osx-arm64"]).reasons).toEqual([
      "platform osx-arm64 is not locked",
    ]);
  });

  it("shows drift when a newer build of an unpinned package appears", async () => {
    const def = definition(["python=3.12", "numpy"]);
    const lock = await lockEnvironment(def, { cacheDir: join(tmp.path, "cache2") });
    expect(await outdated(def, lock, { cacheDir: join(tmp.path, "cache2") })).toEqual([]);
    channel.setFile(
      "linux-64/repodata.json",
      doc("linux-64", [
        ...linux,
        { name: "numpy", version: "2.0.0", build: "py312_0", depends: ["python >=3.12,<3.13"] },
      ]),
    );
    try {
      expect(await outdated(def, lock, { cacheDir: join(tmp.path, "cache2") })).toEqual([
        { platform: "linux-64", kind: "conda", name: "numpy", locked: "1.26.4", latest: "2.0.0" },
      ]);
    } finally {
      channel.setFile("linux-64/repodata.json", doc("linux-64", linux));
    }
  });

  it("fails with an explanation when the pip block cannot be satisfied", async () => {
    const def = parseDefinition(
      localCondaDefinition("bad", ["python=3.12", { pip: [`--index-url ${index.url}`, "tqdm>=5"] }], {
        channels: [channel.url],
      }),
    );
    const e = await lockEnvironment(def).catch((x) => x);
    expect(isResolverError(e) && e.code).toBe("E_UNSATISFIABLE");
    expect((e as { explanation: string[] }).explanation[0]).toContain("tqdm>=5");
  });

  it("honours --pre in the pip block", async () => {
    const def = (pip: string[]) =>
      parseDefinition(
        localCondaDefinition("pre", ["python=3.12", { pip: [`--index-url ${index.url}`, ...pip] }], {
          channels: [channel.url],
        }),
      );
    const version = async (pip: string[]) =>
      (await lockEnvironment(def(pip))).platforms["linux-64"]?.pip[0]?.version;
    expect(await version(["beta"])).toBe("1.0");
    expect(await version(["--pre", "beta"])).toBe("2.0b1");
  });
});
