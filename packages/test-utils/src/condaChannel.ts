import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, normalize, sep } from "node:path";
import { zipSync } from "fflate";
import { makeTempDir } from "./tempDir";

/** A conda channel served over loopback HTTP. */
export interface CondaChannelServer {
  /** Channel URL, e.g. `http://127.0.0.1:41234/channel`. */
  url: string;
  /** Every request seen: method, path and response status (to assert caching). */
  requests: { method: string; path: string; status: number }[];
  /** Replace or add a file in memory (e.g. a new repodata.json, to test cache refreshes). */
  setFile(path: string, body: string | Uint8Array, mtime?: Date): void;
  close(): Promise<void>;
}

export interface CondaChannelOptions {
  /** A channel folder on disk (`<subdir>/repodata.json`, package files...). */
  dir?: string;
  /** In-memory files, path (e.g. `linux-64/repodata.json`) → body. Wins over `dir`. */
  files?: Record<string, string | Uint8Array>;
  /** Path prefix of the channel (default `channel`). */
  name?: string;
}

/**
 * Serve a conda channel on 127.0.0.1 with strong ETags and Last-Modified, answering
 * If-None-Match / If-Modified-Since with 304, so clients' on-disk caches can be tested for real.
 */
export async function serveCondaChannel(options: CondaChannelOptions): Promise<CondaChannelServer> {
  const name = options.name ?? "channel";
  const mem = new Map<string, { body: Buffer; mtime: Date; etag?: string }>();
  const started = new Date(Math.floor(Date.now() / 1000) * 1000);
  for (const [p, b] of Object.entries(options.files ?? {}))
    mem.set(p, { body: Buffer.from(b), mtime: started });
  const requests: CondaChannelServer["requests"] = [];
  const fromDir = new Map<
    string,
    { mtimeMs: number; size: number; file: { body: Buffer; mtime: Date; etag?: string } }
  >();

  const lookup = (rel: string): { body: Buffer; mtime: Date; etag?: string } | undefined => {
    const m = mem.get(rel);
    if (m) return m;
    if (!options.dir) return undefined;
    const full = normalize(join(options.dir, rel));
    if (!full.startsWith(normalize(options.dir) + sep)) return undefined;
    try {
      const st = statSync(full);
      if (!st.isFile()) return undefined;
      // read (and hashed for its ETag) once per version of the file: channels can be hundreds of MB
      const got = fromDir.get(full);
      if (got && got.mtimeMs === st.mtimeMs && got.size === st.size) return got.file;
      const file = { body: readFileSync(full), mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
      fromDir.set(full, { mtimeMs: st.mtimeMs, size: st.size, file });
      return file;
    } catch {
      return undefined;
    }
  };

  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    const prefix = `/${name}/`;
    const done = (status: number) => requests.push({ method: req.method ?? "GET", path, status });
    const file = path.startsWith(prefix) ? lookup(path.slice(prefix.length)) : undefined;
    if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      done(404);
      return;
    }
    // hashed once per content, like a real server's precomputed ETag
    file.etag ??= `"${createHash("sha256").update(file.body).digest("hex").slice(0, 32)}"`;
    const etag = file.etag;
    const lastModified = file.mtime.toUTCString();
    const inm = req.headers["if-none-match"];
    const ims = req.headers["if-modified-since"];
    const notModified =
      inm !== undefined ? inm === etag : ims !== undefined && Date.parse(ims) >= file.mtime.getTime();
    if (notModified) {
      res.writeHead(304, { etag, "last-modified": lastModified }).end();
      done(304);
      return;
    }
    res.writeHead(200, {
      "content-type": path.endsWith(".json") ? "application/json" : "application/octet-stream",
      "content-length": String(file.body.length),
      etag,
      "last-modified": lastModified,
    });
    res.end(req.method === "HEAD" ? undefined : file.body);
    done(200);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    requests,
    setFile(p, body, mtime) {
      mem.set(p, {
        body: Buffer.from(body),
        mtime: mtime ?? new Date(Math.floor(Date.now() / 1000) * 1000 + 1000),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One record of {@link repodataJson}: `depends` and `build_number` default to none and 0. */
export interface RepodataRecord {
  name: string;
  version: string;
  build: string;
  depends?: string[];
  build_number?: number;
}

/** A `repodata.json` text listing `.tar.bz2` records (placeholder md5) for one subdir. */
export function repodataJson(records: RepodataRecord[], subdir = "linux-64"): string {
  return JSON.stringify({
    info: { subdir },
    packages: Object.fromEntries(
      records.map((r) => [
        `${r.name}-${r.version}-${r.build}.tar.bz2`,
        { build_number: 0, depends: [], md5: "c".repeat(32), ...r },
      ]),
    ),
  });
}

/**
 * Split a flat `{filename: record}` index (like conda's tests/data/index4.json) into channel
 * files the way conda's tests do: records with subdir noarch (or a noarch field) go to
 * `noarch/repodata.json`, the rest to `<subdir>/repodata.json`.
 */
export function channelFilesFromFlatIndex(
  flat: Record<string, Record<string, unknown>>,
  subdir = "linux-64",
): Record<string, string> {
  const host: Record<string, unknown> = {};
  const noarch: Record<string, unknown> = {};
  for (const [fn, rec] of Object.entries(flat)) {
    const isNoarch = rec.subdir === "noarch" || (rec.noarch !== undefined && rec.noarch !== null);
    if (isNoarch) noarch[fn] = { ...rec, subdir: "noarch" };
    else host[fn] = { ...rec, subdir };
  }
  const doc = (sd: string, packages: Record<string, unknown>) =>
    JSON.stringify({ info: { subdir: sd }, packages, "packages.conda": {}, repodata_version: 1 });
  return { [`${subdir}/repodata.json`]: doc(subdir, host), "noarch/repodata.json": doc("noarch", noarch) };
}

// ---------------------------------------------------------------------------------------------
// Real conda package archives (.conda and .tar.bz2) built from files, for installer tests.

/** One file of a fixture package. */
export interface FixtureFile {
  /** Path inside the package (and the prefix), e.g. `bin/hello`. */
  path: string;
  /** Contents (files), absent for symlinks and folders. */
  data?: string | Uint8Array;
  /** Unix mode (default 0o644; 0o755 for files under bin/). */
  mode?: number;
  /** Make this a symlink to the given target. */
  symlink?: string;
  /** The build prefix recorded in the file, and how conda must replace it. */
  placeholder?: { prefix: string; mode: "text" | "binary" };
  /** Override the `path_type` written to info/paths.json (hostile fixtures). */
  pathType?: string;
  /** Override the `_path` written to info/paths.json (hostile fixtures). */
  pathsJsonPath?: string;
}

/** A package to build. */
export interface FixturePackage {
  name: string;
  version: string;
  build: string;
  buildNumber?: number;
  /** Default linux-64 (noarch packages: noarch). */
  subdir?: string;
  depends?: string[];
  noarch?: "python";
  /** `name = module:function` entry points (noarch: python). */
  entryPoints?: string[];
  files: FixtureFile[];
  /** Default "conda". */
  format?: "conda" | "tar.bz2";
  /** Describe files with the pre-paths.json `info/files` + `info/has_prefix` instead. */
  legacyInfo?: boolean;
  /** Raw extra tar members (hostile fixtures): names are written exactly as given. */
  rawMembers?: {
    name: string;
    type?: "file" | "symlink" | "link" | "directory";
    data?: string;
    linkname?: string;
  }[];
  /** Cut the finished archive to this fraction of its length (corrupt fixtures; the channel's hashes match the cut file). */
  truncate?: number;
}

/** A built package: its file name, bytes and repodata record. */
export interface BuiltCondaPackage {
  filename: string;
  subdir: string;
  bytes: Uint8Array;
  record: Record<string, unknown>;
}

function compressWith(tool: "zstd" | "bzip2", input: Uint8Array): Uint8Array {
  const args = tool === "zstd" ? ["-q", "-3", "-c", "-T0"] : ["-c", "-9"];
  const r = spawnSync(tool, args, { input, maxBuffer: 2 * 1024 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr?.toString() ?? String(r.error)}`);
  return new Uint8Array(r.stdout);
}

type TarEntryIn = {
  header: {
    name: string;
    size: number;
    type?: "file" | "symlink" | "link" | "directory";
    mode?: number;
    linkname?: string;
  };
  body?: Uint8Array;
};

/** Build one conda package archive in memory (needs the `zstd` and `bzip2` command-line tools). */
export async function buildCondaPackage(pkg: FixturePackage): Promise<BuiltCondaPackage> {
  const { packTar } = await import("modern-tar");
  const subdir = pkg.subdir ?? (pkg.noarch ? "noarch" : "linux-64");
  const format = pkg.format ?? "conda";
  const bytesOf = (d: string | Uint8Array | undefined) =>
    typeof d === "string" ? Buffer.from(d) : (d ?? new Uint8Array(0));
  const pkgEntries: TarEntryIn[] = [];
  const paths: Record<string, unknown>[] = [];
  for (const f of pkg.files) {
    if (f.symlink !== undefined) {
      pkgEntries.push({ header: { name: f.path, size: 0, type: "symlink", linkname: f.symlink } });
      paths.push({ _path: f.pathsJsonPath ?? f.path, path_type: f.pathType ?? "softlink" });
      continue;
    }
    const body = bytesOf(f.data);
    const mode =
      f.mode ?? (f.path.startsWith("bin/") || f.path.startsWith("python-scripts/") ? 0o755 : 0o644);
    pkgEntries.push({ header: { name: f.path, size: body.length, type: "file", mode }, body });
    const p: Record<string, unknown> = {
      _path: f.pathsJsonPath ?? f.path,
      path_type: f.pathType ?? "hardlink",
      sha256: createHash("sha256").update(body).digest("hex"),
      size_in_bytes: body.length,
    };
    if (f.placeholder) {
      p.prefix_placeholder = f.placeholder.prefix;
      p.file_mode = f.placeholder.mode;
    }
    paths.push(p);
  }
  for (const m of pkg.rawMembers ?? []) {
    const body = Buffer.from(m.data ?? "");
    pkgEntries.push({
      header: {
        name: m.name,
        size: m.type && m.type !== "file" ? 0 : body.length,
        type: m.type ?? "file",
        ...(m.linkname ? { linkname: m.linkname } : {}),
      },
      ...(m.type && m.type !== "file" ? {} : { body }),
    });
  }
  const index = {
    name: pkg.name,
    version: pkg.version,
    build: pkg.build,
    build_number: pkg.buildNumber ?? 0,
    depends: pkg.depends ?? [],
    subdir,
    ...(pkg.noarch ? { noarch: pkg.noarch } : {}),
  };
  const info: Record<string, string> = { "info/index.json": JSON.stringify(index, null, 2) };
  if (pkg.legacyInfo) {
    info["info/files"] = `${pkg.files.map((f) => f.path).join("\n")}\n`;
    const hp = pkg.files
      .filter((f) => f.placeholder)
      .map((f) => `${f.placeholder?.prefix} ${f.placeholder?.mode} ${f.path}`);
    if (hp.length) info["info/has_prefix"] = `${hp.join("\n")}\n`;
  } else {
    info["info/paths.json"] = JSON.stringify({ paths, paths_version: 1 }, null, 2);
  }
  if (pkg.entryPoints?.length || pkg.noarch) {
    info["info/link.json"] = JSON.stringify({
      noarch: { type: "python", entry_points: pkg.entryPoints ?? [] },
      package_metadata_version: 1,
    });
  }
  const infoEntries: TarEntryIn[] = Object.entries(info).map(([name, text]) => {
    const body = Buffer.from(text);
    return { header: { name, size: body.length, type: "file", mode: 0o644 }, body };
  });
  const tar = (entries: TarEntryIn[]) => packTar(entries);
  const stem = `${pkg.name}-${pkg.version}-${pkg.build}`;
  let bytes: Uint8Array;
  if (format === "tar.bz2") {
    bytes = compressWith("bzip2", await tar([...infoEntries, ...pkgEntries]));
  } else {
    bytes = zipSync(
      {
        "metadata.json": [Buffer.from(JSON.stringify({ conda_pkg_format_version: 2 })), { level: 0 }],
        [`pkg-${stem}.tar.zst`]: [compressWith("zstd", await tar(pkgEntries)), { level: 0 }],
        [`info-${stem}.tar.zst`]: [compressWith("zstd", await tar(infoEntries)), { level: 0 }],
      },
      { level: 0 },
    );
  }
  if (pkg.truncate !== undefined) bytes = bytes.subarray(0, Math.floor(bytes.length * pkg.truncate));
  const filename = `${stem}.${format}`;
  const record = {
    ...index,
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    md5: createHash("md5").update(bytes).digest("hex"),
  };
  return { filename, subdir, bytes, record };
}

/**
 * Write packages into a channel folder: `<subdir>/<file>` and `<subdir>/repodata.json`
 * (`.conda` files under `packages.conda`), with linux-64 and noarch always present.
 */
export function writeCondaChannel(dir: string, packages: BuiltCondaPackage[]): void {
  const subdirs = new Set(["linux-64", "noarch", ...packages.map((p) => p.subdir)]);
  for (const sd of subdirs) {
    mkdirSync(join(dir, sd), { recursive: true });
    const tarBz2: Record<string, unknown> = {};
    const conda: Record<string, unknown> = {};
    for (const p of packages.filter((x) => x.subdir === sd)) {
      writeFileSync(join(dir, sd, p.filename), p.bytes);
      (p.filename.endsWith(".conda") ? conda : tarBz2)[p.filename] = p.record;
    }
    writeFileSync(
      join(dir, sd, "repodata.json"),
      JSON.stringify({
        info: { subdir: sd },
        packages: tarBz2,
        "packages.conda": conda,
        repodata_version: 1,
      }),
    );
  }
}

/** A 255-byte build prefix like conda-build's `_h_env_placehold_placehold...`. */
export const LONG_BUILD_PREFIX =
  `/home/conda/feedstock_root/build_artifacts/demo_1700000000/_h_env${"_placehold".repeat(30)}`.slice(0, 255);

/** Why the compiled fixture cannot be built (no C compiler), or null. */
export function ccMissing(): string | null {
  const r = spawnSync("cc", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? null : `no C compiler (cc) on PATH: ${String(r.error ?? r.stderr).slice(0, 200)}`;
}

/** Why archives cannot be built here (no zstd/bzip2 tools), or null. */
export function condaArchiveToolsMissing(): string | null {
  for (const tool of ["zstd", "bzip2"]) {
    const r = spawnSync(tool, ["--help"], { encoding: "utf8" });
    if (r.error) return `the ${tool} command-line tool is missing (needed to build fixture packages)`;
  }
  return null;
}

/**
 * A compiled package: a tiny C program whose binary holds {@link LONG_BUILD_PREFIX} (binary
 * placeholder: it prints the prefix it was installed into), and a shell script with a text
 * placeholder.
 */
export function compiledFixture(workDir: string, format: "conda" | "tar.bz2" = "conda"): FixturePackage {
  const src = join(workDir, "show-prefix.c");
  writeFileSync(
    src,
    `#include <stdio.h>\nstatic char prefix[] = "${LONG_BUILD_PREFIX}";\nint main(void) { printf("%s\\n", prefix); return 0; }\n`,
  );
  const exe = join(workDir, "show-prefix");
  const r = spawnSync("cc", ["-O1", "-o", exe, src], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cc failed: ${r.stderr}`);
  return {
    name: "showprefix",
    version: "1.0",
    build: "h0_0",
    format,
    files: [
      {
        path: "bin/show-prefix",
        data: readFileSync(exe),
        mode: 0o755,
        placeholder: { prefix: LONG_BUILD_PREFIX, mode: "binary" },
      },
      {
        path: "bin/show-prefix.sh",
        data: `#!/bin/sh\necho "script prefix: ${LONG_BUILD_PREFIX}"\n`,
        placeholder: { prefix: LONG_BUILD_PREFIX, mode: "text" },
      },
    ],
  };
}

function walk(root: string, rel: string, out: FixtureFile[], skip: (rel: string) => boolean): void {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip(r)) continue;
    const st = lstatSync(join(root, r));
    if (st.isSymbolicLink()) out.push({ path: r, symlink: readlinkSync(join(root, r)) });
    else if (st.isDirectory()) walk(root, r, out, skip);
    else if (st.isFile()) out.push({ path: r, data: readFileSync(join(root, r)), mode: st.mode & 0o777 });
  }
}

/**
 * The interpreter with its RUNPATH (e.g. pyenv's `/root/.pyenv/versions/3.11.7/lib`) made
 * `$ORIGIN/../lib`, as conda's python has it, padded with NULs to keep the length: otherwise a
 * user who cannot read the build's directory gets the system's libpython (and its frozen `site`).
 */
function relocatableRunpath(binary: Buffer, libDir: string): Buffer {
  const from = Buffer.from(`\0${libDir}\0`);
  const at = binary.indexOf(from);
  if (at < 0) return binary;
  const out = Buffer.from(binary);
  const to = Buffer.from("$ORIGIN/../lib");
  if (to.length > libDir.length) return binary;
  out.fill(0, at + 1, at + 1 + libDir.length);
  to.copy(out, at + 1);
  return out;
}

/**
 * A `python` package assembled from this machine's python3: the interpreter, libpython, the
 * standard library (without tests, caches and GUI modules) and pip, so an installed environment
 * really runs Python and can pip install.
 */
export function pythonFixture(): FixturePackage {
  const exe = realpathSync(
    spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout.trim(),
  );
  const home = dirname(dirname(exe));
  const info = spawnSync("python3", ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], {
    encoding: "utf8",
  });
  const version = info.stdout.trim();
  const mm = version.split(".").slice(0, 2).join(".");
  const stdlib = `lib/python${mm}`;
  const files: FixtureFile[] = [
    { path: `bin/python${mm}`, data: relocatableRunpath(readFileSync(exe), join(home, "lib")), mode: 0o755 },
    { path: "bin/python3", symlink: `python${mm}` },
    { path: "bin/python", symlink: `python${mm}` },
  ];
  for (const lib of readdirSync(join(home, "lib"))) {
    if (!lib.startsWith("libpython")) continue;
    const st = lstatSync(join(home, "lib", lib));
    if (st.isSymbolicLink())
      files.push({ path: `lib/${lib}`, symlink: readlinkSync(join(home, "lib", lib)) });
    else if (st.isFile())
      files.push({ path: `lib/${lib}`, data: readFileSync(join(home, "lib", lib)), mode: st.mode & 0o777 });
  }
  const skipDirs =
    /(^|\/)(__pycache__|test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|config-[^/]*)$/;
  walk(join(home, "lib"), `python${mm}`, files, (r) => {
    if (skipDirs.test(r)) return true;
    const site = `python${mm}/site-packages/`;
    if (r.startsWith(site)) {
      const top = r.slice(site.length).split("/")[0] ?? "";
      return !(top === "pip" || /^pip-[^/]*\.dist-info$/.test(top));
    }
    return false;
  });
  for (const f of files) {
    if (f.path.startsWith(`python${mm}/`)) f.path = `lib/${f.path}`;
    // as in conda's own python: pip belongs to conda, not to a pip install
    if (/\/site-packages\/pip-[^/]*\.dist-info\/INSTALLER$/.test(f.path)) f.data = "conda\n";
  }
  return {
    name: "python",
    version,
    build: "h0_0_fixture",
    format: "conda",
    files: files.filter((f) => f.path !== stdlib),
  };
}

/**
 * Builds `packages` (in order), writes them as a channel in `dir` and serves it. Answers the
 * server and the built packages, in the order given.
 */
export async function serveFixtureChannel(
  dir: string,
  packages: FixturePackage[],
): Promise<{ channel: CondaChannelServer; built: BuiltCondaPackage[] }> {
  const built: BuiltCondaPackage[] = [];
  for (const p of packages) built.push(await buildCondaPackage(p));
  writeCondaChannel(dir, built);
  return { channel: await serveCondaChannel({ dir }), built };
}

/**
 * A noarch python package `greet` with a console entry point: `greet` prints
 * `hello from greet <sys.prefix>` (its module holds `GREETING = 'hello from greet'`). `extraFiles`
 * are added as they are (e.g. a `python-scripts/` file).
 */
export function greetCliFixture(extraFiles: FixtureFile[] = []): FixturePackage {
  return {
    name: "greet",
    version: "0.1.0",
    build: "pyh0_0",
    noarch: "python",
    format: "tar.bz2",
    depends: ["python >=3"],
    entryPoints: ["greet = greet.cli:main"],
    files: [
      { path: "site-packages/greet/__init__.py", data: "GREETING = 'hello from greet'\n" },
      {
        path: "site-packages/greet/cli.py",
        data: "import sys\nfrom greet import GREETING\n\ndef main():\n    print(GREETING, sys.prefix)\n    return 0\n",
      },
      ...extraFiles,
    ],
  };
}

/**
 * Serves from `dir` a channel of two packages: this machine's python (`pythonFixture`) and a
 * noarch `greet` whose module holds `GREETING = 'hello from a conda package'`. Answers the channel
 * and the python version (for a `python=VERSION` pin).
 */
async function serveGreetCondaChannel(
  dir: string,
): Promise<{ channel: CondaChannelServer; pythonVersion: string }> {
  const { channel, built } = await serveFixtureChannel(dir, [
    pythonFixture(),
    {
      name: "greet",
      version: "0.1.0",
      build: "pyh0_0",
      noarch: "python",
      format: "tar.bz2",
      files: [{ path: "site-packages/greet/__init__.py", data: "GREETING = 'hello from a conda package'\n" }],
    },
  ]);
  return { channel, pythonVersion: String(built[0]?.record.version) };
}

/**
 * Run `body` with the channel of {@link serveGreetCondaChannel}, served from a fresh temporary
 * directory; the channel is closed and the directory removed after it.
 */
export async function withGreetCondaChannel<T>(
  body: (served: { channel: CondaChannelServer; pythonVersion: string }) => Promise<T>,
): Promise<T> {
  const dir = makeTempDir("mlenv-greet-channel-");
  try {
    const served = await serveGreetCondaChannel(dir.path);
    try {
      return await body(served);
    } finally {
      await served.channel.close();
    }
  } finally {
    dir.cleanup();
  }
}

/** One package in a CPU build and a CUDA build that needs a CUDA 12 driver (preferred: higher build number). */
function gpukit(build: string, depends: string[], buildNumber: number): FixturePackage {
  return {
    name: "gpukit",
    version: "1.0",
    build,
    buildNumber,
    depends,
    files: [{ path: "share/gpukit/build.txt", data: `${build}\n` }],
  };
}

/**
 * Serves from `dir` a channel of this machine's python (`pythonFixture`) and `gpukit 1.0` in two
 * builds: `cpu_0` and `cuda12_1` (depends on `__cuda >=12`, preferred by its build number). Each
 * build installs `share/gpukit/build.txt` holding its build string.
 */
export async function serveGpukitCondaChannel(dir: string): Promise<CondaChannelServer> {
  const { channel } = await serveFixtureChannel(dir, [
    pythonFixture(),
    gpukit("cpu_0", [], 0),
    gpukit("cuda12_1", ["__cuda >=12"], 1),
  ]);
  return channel;
}
