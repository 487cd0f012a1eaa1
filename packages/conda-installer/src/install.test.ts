import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Lock, type LockedCondaPackage, parseDefinition } from "@mlenv/core";
import { lockEnvironment } from "@mlenv/resolver";
import { fromExistingCondaEnvironment, readCondaPrefix } from "@mlenv/sdk/node";
import {
  type BuiltCondaPackage,
  buildWheel,
  type CondaChannelServer,
  ccMissing,
  compiledFixture,
  condaArchiveToolsMissing,
  type FixturePackage,
  greetCliFixture,
  localCondaDefinition,
  makeTempDir,
  type PypiIndexServer,
  pythonFixture,
  serveFixtureChannel,
  servePypiIndex,
  skipWithout,
  venvMissing,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheEntryDir } from "./cache";
import { type InstallOptions, installLock } from "./install";

const missing = condaArchiveToolsMissing() ?? ccMissing() ?? venvMissing();
const tmp = makeTempDir("mlenv-conda-install-");
const channelDir = join(tmp.path, "channel");
const cacheDir = join(tmp.path, "pkgs");
let channel: CondaChannelServer;
let pypi: PypiIndexServer;
const built = new Map<string, BuiltCondaPackage>();

const greet = greetCliFixture([
  { path: "python-scripts/greet-raw", data: "#!/bin/sh\necho raw script\n", mode: 0o755 },
]);
const libdemo: FixturePackage = {
  name: "libdemo",
  version: "2.0",
  build: "h1_0",
  format: "tar.bz2",
  files: [
    { path: "lib/libdemo.so.2.0", data: "not really a library\n" },
    { path: "lib/libdemo.so", symlink: "libdemo.so.2.0" },
    { path: "share/demo", data: "" },
  ],
};
const legacy: FixturePackage = {
  name: "legacytool",
  version: "0.9",
  build: "0",
  format: "tar.bz2",
  legacyInfo: true,
  files: [
    {
      path: "etc/legacytool.conf",
      data: "root=/opt/anaconda1anaconda2anaconda3\n",
      placeholder: { prefix: "/opt/anaconda1anaconda2anaconda3", mode: "text" },
    },
  ],
};
const postlink: FixturePackage = {
  name: "postlinkdemo",
  version: "1.0",
  build: "0",
  files: [
    {
      path: "bin/.postlinkdemo-post-link.sh",
      data: 'echo "$PKG_NAME $PKG_VERSION" > "$PREFIX/post-link-ran"\n',
    },
    { path: "share/postlinkdemo.txt", data: "x\n" },
  ],
};
const bad: Record<string, FixturePackage> = {
  corruptConda: {
    name: "corrupt-conda",
    version: "1",
    build: "0",
    truncate: 0.6,
    files: [{ path: "share/a", data: "a".repeat(5000) }],
  },
  corruptBz2: {
    name: "corrupt-bz2",
    version: "1",
    build: "0",
    format: "tar.bz2",
    truncate: 0.6,
    files: [{ path: "share/b", data: "b".repeat(5000) }],
  },
  dotdot: {
    name: "hostile-dotdot",
    version: "1",
    build: "0",
    format: "tar.bz2",
    files: [],
    rawMembers: [{ name: "../../escaped.txt", data: "pwned" }],
  },
  absolute: {
    name: "hostile-abs",
    version: "1",
    build: "0",
    files: [],
    rawMembers: [{ name: "/tmp/mlenv-abs-escape.txt", data: "pwned" }],
  },
  symlinkOut: {
    name: "hostile-symlink",
    version: "1",
    build: "0",
    files: [{ path: "etc/passwd-link", symlink: "../../../../../../../../etc/passwd" }],
  },
  pathType: {
    name: "hostile-pathtype",
    version: "1",
    build: "0",
    files: [{ path: "bin/odd", data: "x", pathType: "device" }],
  },
  pathsJsonEscape: {
    name: "hostile-pathsjson",
    version: "1",
    build: "0",
    files: [{ path: "share/x", data: "x", pathsJsonPath: "../outside" }],
  },
  clashA: { name: "clash-a", version: "1", build: "0", files: [{ path: "bin/same", data: "a" }] },
  clashB: {
    name: "clash-b",
    version: "1",
    build: "0",
    format: "tar.bz2",
    files: [{ path: "bin/same", data: "b" }],
  },
};

function lockOf(names: string[], tweak: (p: LockedCondaPackage) => LockedCondaPackage = (p) => p): Lock {
  const conda = names.map((n) => {
    const b = built.get(n);
    if (!b) throw new Error(`no fixture ${n}`);
    const r = b.record as Record<string, unknown>;
    return tweak({
      name: String(r.name),
      version: String(r.version),
      build: String(r.build),
      buildNumber: 0,
      channel: channel.url,
      subdir: b.subdir,
      url: `${channel.url}/${b.subdir}/${b.filename}`,
      sha256: String(r.sha256),
      md5: String(r.md5),
      depends: [],
    });
  });
  return {
    lockVersion: 1,
    definitionHash: `mlenv1-sha256:${"0".repeat(64)}`,
    channels: [channel.url],
    indexes: [],
    platforms: { "linux-64": { conda, pip: [] } },
  };
}

/** The lock with one (never fetched) pip package. */
function withPip(lock: Lock): Lock {
  const platform = lock.platforms["linux-64"] ?? { conda: [], pip: [] };
  const pip = [
    {
      name: "tinydep",
      version: "1.2.3",
      url: "http://127.0.0.1:9/t.whl",
      sha256: "0".repeat(64),
      requires: [],
    },
  ];
  return { ...lock, platforms: { "linux-64": { ...platform, pip } } };
}

const install = (o: Omit<InstallOptions, "cacheDir" | "platform">) =>
  installLock({ cacheDir, platform: "linux-64", ...o });
const sh = (cmd: string, args: string[] = []) =>
  spawnSync(cmd, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });

describe.skipIf(skipWithout("conda archive tools, cc, python3", missing))(
  "installLock with real packages",
  () => {
    beforeAll(async () => {
      const pkgs = [
        pythonFixture(),
        greet,
        compiledFixture(tmp.path),
        libdemo,
        legacy,
        postlink,
        ...Object.values(bad),
      ];
      const served = await serveFixtureChannel(channelDir, pkgs);
      channel = served.channel;
      for (const b of served.built) built.set(String(b.record.name), b);
      const wheel = buildWheel({ name: "tinydep", version: "1.2.3" });
      pypi = await servePypiIndex({ projects: { tinydep: [{ wheel }] } });
    }, 300_000);
    afterAll(async () => {
      await channel?.close();
      await pypi?.close();
      tmp.cleanup();
    });

    const prefix = () => join(tmp.path, "envs", "main");

    it("locks, installs, imports, runs the entry point and the relocated binaries", async () => {
      const def = parseDefinition(
        localCondaDefinition(
          "e2e",
          [
            "python",
            "greet",
            "showprefix",
            "libdemo",
            "legacytool",
            { pip: [`--index-url ${pypi.url}`, "tinydep"] },
          ],
          { channels: [channel.url] },
        ),
      );
      const lock = await lockEnvironment(def);
      expect(lock.platforms["linux-64"]?.conda.map((p) => p.name)).toEqual([
        "greet",
        "legacytool",
        "libdemo",
        "python",
        "showprefix",
      ]);
      const events: string[] = [];
      const res = await install({ prefix: prefix(), lock, onProgress: (e) => events.push(e.phase) });
      expect(res.linked).toHaveLength(5);
      expect(res.fetched).toHaveLength(5);
      expect(res.pip).toEqual(["tinydep==1.2.3"]);
      expect(events).toContain("fetch");
      expect(events).toContain("link");
      const p = prefix();
      const py = sh(join(p, "bin", "python"), [
        "-c",
        "import sys, greet, tinydep; print(sys.prefix); print(greet.GREETING)",
      ]);
      expect(py.stderr).toBe("");
      expect(py.stdout).toBe(`${p}\nhello from greet\n`);
      // noarch: python went to the prefix's site-packages, python-scripts/ to bin/, entry point written
      const mm = /^(\d+\.\d+)/.exec(String(built.get("python")?.record.version))?.[1];
      expect(existsSync(join(p, "lib", `python${mm}`, "site-packages", "greet", "cli.py"))).toBe(true);
      expect(sh(join(p, "bin", "greet-raw")).stdout).toBe("raw script\n");
      const ep = sh(join(p, "bin", "greet"));
      expect(ep.stdout).toBe(`hello from greet ${p}\n`);
      expect(readFileSync(join(p, "bin", "greet"), "utf8").split("\n")[0]).toBe(`#!${p}/bin/python`);
      // binary placeholder replaced in place: same length, prints the prefix
      expect(sh(join(p, "bin", "show-prefix")).stdout).toBe(`${p}\n`);
      const cached = cacheEntryDir(
        cacheDir,
        lock.platforms["linux-64"]?.conda.find((x) => x.name === "showprefix") as LockedCondaPackage,
      );
      expect(statSync(join(p, "bin", "show-prefix")).size).toBe(
        statSync(join(cached, "bin", "show-prefix")).size,
      );
      expect(sh(join(p, "bin", "show-prefix.sh")).stdout).toBe(`script prefix: ${p}\n`);
      expect(readFileSync(join(p, "etc", "legacytool.conf"), "utf8")).toBe(`root=${p}\n`);
      // softlinks stay softlinks; plain files are hard links into the cache
      expect(lstatSync(join(p, "lib", "libdemo.so")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(p, "lib", "libdemo.so"))).toBe("libdemo.so.2.0");
      const libCache = cacheEntryDir(
        cacheDir,
        lock.platforms["linux-64"]?.conda.find((x) => x.name === "libdemo") as LockedCondaPackage,
      );
      expect(statSync(join(p, "lib", "libdemo.so.2.0")).ino).toBe(
        statSync(join(libCache, "lib", "libdemo.so.2.0")).ino,
      );
      // conda-meta records and history, read back as an environment
      const rec = JSON.parse(readFileSync(join(p, "conda-meta", "greet-0.1.0-pyh0_0.json"), "utf8"));
      expect(rec.files).toContain(`lib/python${mm}/site-packages/greet/cli.py`);
      expect(rec.files).toContain("bin/greet");
      expect(rec.url).toBe(`${channel.url}/noarch/greet-0.1.0-pyh0_0.tar.bz2`);
      expect(rec.paths_data.paths_version).toBe(1);
      expect(readFileSync(join(p, "conda-meta", "history"), "utf8")).toContain(
        `+${channel.url}/noarch::greet-0.1.0-pyh0_0`,
      );
      const back = readCondaPrefix(p);
      expect(
        back
          .filter((x) => x.installer === "conda")
          .map((x) => `${x.name}=${x.version}=${x.build}`)
          .sort(),
      ).toEqual(
        (lock.platforms["linux-64"]?.conda ?? []).map((x) => `${x.name}=${x.version}=${x.build}`).sort(),
      );
      const env = fromExistingCondaEnvironment("back", p, { includeBuilds: true }).toDefinition();
      const deps = JSON.stringify(env.python.condaDependencies);
      for (const x of lock.platforms["linux-64"]?.conda ?? [])
        expect(deps).toContain(`${x.name}=${x.version}=${x.build}`);
      expect(deps).toContain("tinydep==1.2.3");
      expect(back.filter((x) => x.installer === "pip").map((x) => `${x.name}==${x.version}`)).toEqual([
        "tinydep==1.2.3",
      ]);
    }, 300_000);

    it("a second environment comes from the warm cache; an update links, unlinks and leaves the rest", async () => {
      const other = join(tmp.path, "envs", "second");
      const first = await install({ prefix: other, lock: lockOf(["python", "libdemo", "legacytool"]) });
      expect(first.fetched).toEqual([]);
      expect(first.linked.sort()).toEqual([
        "legacytool-0.9-0",
        "libdemo-2.0-h1_0",
        expect.stringMatching(/^python-/),
      ]);
      const upd = await install({ prefix: other, lock: lockOf(["python", "legacytool", "postlinkdemo"]) });
      expect(upd.linked).toEqual(["postlinkdemo-1.0-0"]);
      expect(upd.unlinked).toEqual(["libdemo-2.0-h1_0"]);
      expect(upd.unchanged.sort()).toEqual(["legacytool-0.9-0", expect.stringMatching(/^python-/)]);
      expect(existsSync(join(other, "lib", "libdemo.so.2.0"))).toBe(false);
      expect(existsSync(join(other, "conda-meta", "libdemo-2.0-h1_0.json"))).toBe(false);
      expect(existsSync(join(other, "share"))).toBe(true); // still holds postlinkdemo's file
      expect(upd.warnings).toEqual([
        expect.stringContaining("post-link script bin/.postlinkdemo-post-link.sh was not run"),
      ]);
      expect(existsSync(join(other, "post-link-ran"))).toBe(false);
      expect(readFileSync(join(other, "conda-meta", "history"), "utf8")).toMatch(
        /-.*::libdemo-2\.0-h1_0\n\+.*::postlinkdemo-1\.0-0\n$/,
      );
      expect(readdirSync(other).filter((f) => f.startsWith(".mlenv"))).toEqual([]);
    }, 120_000);

    it("runs post-link scripts only when asked", async () => {
      const p = join(tmp.path, "envs", "scripts");
      const r = await install({ prefix: p, lock: lockOf(["postlinkdemo"]), runLinkScripts: true });
      expect(r.warnings).toEqual([]);
      expect(readFileSync(join(p, "post-link-ran"), "utf8")).toBe("postlinkdemo 1.0\n");
    });

    it("installs for another path (an image's prefix): placeholders and entry points name the target", async () => {
      const staged = join(tmp.path, "stage", "opt", "env");
      const target = "/opt/mlenv-image/env";
      const lock = lockOf(["python", "greet", "showprefix"]);
      await expect(install({ prefix: staged, targetPrefix: target, lock: withPip(lock) })).rejects.toThrow(
        /pip: false/,
      );
      expect(existsSync(staged)).toBe(false);
      const r = await install({ prefix: staged, targetPrefix: target, lock, pip: false });
      expect(r.prefix).toBe(staged);
      expect(readFileSync(join(staged, "bin", "greet"), "utf8").split("\n")[0]).toBe(
        `#!${target}/bin/python`,
      );
      expect(readFileSync(join(staged, "bin", "show-prefix.sh"), "utf8")).toContain(
        `script prefix: ${target}"\n`,
      );
      // binary placeholder: the target path, NUL-padded to the placeholder's length
      const out = sh(join(staged, "bin", "show-prefix")).stdout;
      expect(out).toBe(`${target}\n`);
      expect(readFileSync(join(staged, "bin", "show-prefix")).includes(Buffer.from(staged))).toBe(false);
    });

    it("fetches file:// URLs, and concurrent installs share one cache entry", async () => {
      const lock = lockOf(["libdemo", "legacytool"], (p) => ({
        ...p,
        url: pathToFileURL(join(channelDir, p.subdir, p.url.split("/").pop() as string)).href,
      }));
      const fresh = join(tmp.path, "pkgs-concurrent");
      const [a, b] = await Promise.all([
        installLock({ prefix: join(tmp.path, "envs", "ca"), lock, cacheDir: fresh, platform: "linux-64" }),
        installLock({ prefix: join(tmp.path, "envs", "cb"), lock, cacheDir: fresh, platform: "linux-64" }),
      ]);
      expect([...a.fetched, ...b.fetched].sort()).toEqual(["legacytool-0.9-0", "libdemo-2.0-h1_0"]);
      expect(readdirSync(fresh).filter((f) => !f.endsWith(".lock")).length).toBe(2);
    });

    describe("bad input: a clear error and nothing linked", () => {
      const cases: [string, () => Lock, string, RegExp][] = [
        [
          "sha256 mismatch",
          () => lockOf(["libdemo"], (p) => ({ ...p, sha256: "f".repeat(64) })),
          "E_CONDA_HASH_MISMATCH",
          /sha256 of .* but the lock expects f{64}/,
        ],
        [
          "md5 only, mismatching",
          () => lockOf(["libdemo"], ({ sha256: _s, ...p }) => ({ ...p, md5: "0".repeat(32) })),
          "E_CONDA_HASH_MISMATCH",
          /md5/,
        ],
        [
          "truncated .conda",
          () => lockOf(["corrupt-conda"]),
          "E_CONDA_ARCHIVE_INVALID",
          /corrupt-conda-1-0: .*(truncated|corrupt)/,
        ],
        [
          "truncated .tar.bz2",
          () => lockOf(["corrupt-bz2"]),
          "E_CONDA_ARCHIVE_INVALID",
          /corrupt-bz2-1-0: .*(truncated|corrupt)/,
        ],
        [
          "a ../ member",
          () => lockOf(["hostile-dotdot"]),
          "E_CONDA_PATH_UNSAFE",
          /"\.\.\/\.\.\/escaped\.txt" escapes the package/,
        ],
        ["an absolute member", () => lockOf(["hostile-abs"]), "E_CONDA_PATH_UNSAFE", /escapes the package/],
        [
          "a symlink out",
          () => lockOf(["hostile-symlink"]),
          "E_CONDA_PATH_UNSAFE",
          /symlink etc\/passwd-link points to .*outside/,
        ],
        [
          "an unknown path type",
          () => lockOf(["hostile-pathtype"]),
          "E_CONDA_PATH_TYPE_UNKNOWN",
          /path_type "device"/,
        ],
        [
          "a paths.json path escaping",
          () => lockOf(["hostile-pathsjson"]),
          "E_CONDA_PATH_UNSAFE",
          /"\.\.\/outside"/,
        ],
        [
          "two packages writing one file",
          () => lockOf(["libdemo", "clash-a", "clash-b"]),
          "E_CONDA_FILE_CLASH",
          /clash-a-1-0 and clash-b-1-0 both install bin\/same/,
        ],
        [
          "a lock for another platform",
          () => ({ ...lockOf(["libdemo"]), platforms: { "osx-arm64": { conda: [], pip: [] } } }),
          "E_CONDA_PLATFORM_MISMATCH",
          /no packages for linux-64 \(it locks osx-arm64\)/,
        ],
        [
          "a package of another subdir",
          () => lockOf(["libdemo"], (p) => ({ ...p, subdir: "win-64" })),
          "E_CONDA_PLATFORM_MISMATCH",
          /built for win-64/,
        ],
      ];
      for (const [what, lock, code, message] of cases) {
        it(what, async () => {
          const p = join(tmp.path, "envs", `bad-${what.replace(/\W+/g, "-")}`);
          const err = await install({ prefix: p, lock: lock() }).then(
            () => null,
            (e: unknown) => e as { code: string; message: string },
          );
          expect(err?.code).toBe(code);
          expect(err?.message).toMatch(message);
          expect(existsSync(p)).toBe(false);
          expect(readdirSync(join(tmp.path, "envs")).filter((f) => f.includes("staging"))).toEqual([]);
          expect(existsSync(join(tmp.path, "escaped.txt"))).toBe(false);
          expect(existsSync("/tmp/mlenv-abs-escape.txt")).toBe(false);
        });
      }

      it("a link that fails midway rolls back: added files removed, removed packages restored", async () => {
        const p = join(tmp.path, "envs", "x".repeat(120), "y".repeat(120), "long");
        await install({ prefix: p, lock: lockOf(["libdemo"]) });
        const err = await install({ prefix: p, lock: lockOf(["legacytool", "showprefix"]) }).catch((e) => e);
        expect(err.code).toBe("E_CONDA_PREFIX_TOO_LONG");
        expect(err.message).toContain("showprefix-1.0-h0_0: bin/show-prefix");
        expect(readdirSync(join(p, "conda-meta")).sort()).toEqual(["history", "libdemo-2.0-h1_0.json"]);
        expect(readlinkSync(join(p, "lib", "libdemo.so"))).toBe("libdemo.so.2.0");
        expect(readFileSync(join(p, "lib", "libdemo.so.2.0"), "utf8")).toBe("not really a library\n");
        expect(existsSync(join(p, "etc"))).toBe(false);
        expect(existsSync(join(p, "bin"))).toBe(false);
        expect(readdirSync(p).filter((f) => f.startsWith(".mlenv"))).toEqual([]);
      });

      it("a failed update leaves the existing environment as it was", async () => {
        const p = join(tmp.path, "envs", "rollback");
        await install({ prefix: p, lock: lockOf(["libdemo", "clash-a"]) });
        const before = readdirSync(join(p, "conda-meta")).sort();
        const err = await install({
          prefix: p,
          lock: lockOf(["legacytool", "clash-a", "hostile-pathtype"]),
        }).catch((e) => e);
        expect(err.code).toBe("E_CONDA_PATH_TYPE_UNKNOWN");
        const err2 = await install({ prefix: p, lock: lockOf(["legacytool", "clash-a", "clash-b"]) }).catch(
          (e) => e,
        );
        expect(err2.code).toBe("E_CONDA_FILE_CLASH");
        expect(err2.message).toContain("clash-a-1-0 (installed) and clash-b-1-0");
        expect(readdirSync(join(p, "conda-meta")).sort()).toEqual(before);
        expect(existsSync(join(p, "lib", "libdemo.so.2.0"))).toBe(true);
        expect(existsSync(join(p, "etc", "legacytool.conf"))).toBe(false);
      });
    });
  },
);
