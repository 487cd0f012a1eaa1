/**
 * A seeded, deterministic generator of PyPI-shaped package indexes for the `pip-resolve` bench:
 * thousands of projects whose dependencies run from applications down to a few foundational
 * libraries (as most of PyPI leans on a handful of projects), version spreads from one release to
 * about a hundred, pre-releases, yanked releases, `Requires-Python` (some newest releases drop
 * the target's Python), platform wheels next to pure ones (some releases only for other
 * platforms), markers and extras. Every file is a real wheel with PEP 658 metadata, built lazily
 * the first time the index serves its project (so generating 3,000 projects costs little).
 *
 * Besides the background, it holds scenarios that make resolvers backtrack, modelled on packse
 * and on what users meet on PyPI:
 * - `sdk-core pinning` (boto3 / botocore / urllib3): each sdk release pins one core release, and
 *   the newest cores cap a library below what the root asks for: 70 sdk releases to walk back;
 * - `deep chain` (packse's backtracking scenarios): ten projects pinning each other in a chain,
 *   the end of which conflicts with the root except in old releases;
 * - `diamond` (packse's transitive incompatibility): two branches whose newest releases need
 *   disjoint ranges of one library.
 */
import { buildWheel, type IndexFile } from "@mlenv/test-utils";
import { prng } from "./random";

export interface UniverseOptions {
  seed: number;
  /** Background projects (besides the scenarios'). */
  projects: number;
}

export interface Universe {
  projects: Record<string, IndexFile[]>;
  /** Requirement sets to resolve, each named after what it exercises. */
  scenarios: { name: string; requirements: string[] }[];
  files: number;
}

const SYLLABLES = ["py", "data", "net", "ml", "fast", "tor", "ka", "lo", "zen", "qu", "ix", "ar", "mo", "vi"];

interface Release {
  version: string;
  requires: string[];
  requiresPython?: string;
  yanked?: boolean;
  /** Wheel tags (python-abi-platform) of its files. */
  tags: string[];
}

/** A file whose wheel is built the first time it is read (the index reads it per project). */
function lazyFile(name: string, r: Release, tag: string): IndexFile {
  const [pythonTag, abiTag, platformTag] = tag.split("-") as [string, string, string];
  let built: ReturnType<typeof buildWheel> | undefined;
  const wheel = () => {
    built ??= buildWheel({
      name,
      version: r.version,
      requiresDist: r.requires,
      ...(r.requiresPython ? { requiresPython: r.requiresPython } : {}),
      pythonTag,
      abiTag,
      platformTag,
      level: 0,
    });
    return built;
  };
  const filename = `${name.replace(/[-_.]+/g, "_")}-${r.version}-${tag}.whl`;
  const file: IndexFile = {
    wheel: {
      filename,
      get bytes() {
        return wheel().bytes;
      },
      get metadata() {
        return wheel().metadata;
      },
    },
  };
  if (r.requiresPython) file.requiresPython = r.requiresPython;
  if (r.yanked) file.yanked = "broken build";
  return file;
}

/** `count` release versions, oldest first: majors, minors and patches as projects bump them. */
function versions(count: number, rand: () => number): string[] {
  const out: string[] = [];
  let [ma, mi, pa] = [rand() < 0.5 ? 0 : 1, Math.floor(rand() * 3), 0];
  for (let i = 0; i < count; i++) {
    out.push(`${ma}.${mi}.${pa}`);
    const r = rand();
    if (r < 0.08) [ma, mi, pa] = [ma + 1, 0, 0];
    else if (r < 0.45) [mi, pa] = [mi + 1, 0];
    else pa++;
  }
  return out;
}

/** Generate the universe for `options` (same options, same bytes). */
export function pypiUniverse(options: UniverseOptions): Universe {
  const rand = prng(options.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const projects: Record<string, IndexFile[]> = {};
  let files = 0;
  const add = (name: string, releases: Release[]) => {
    projects[name] = releases.flatMap((r) => r.tags.map((t) => lazyFile(name, r, t)));
    files += projects[name].length;
  };

  // Background: project i depends only on projects after it (the foundational ones come last).
  const n = options.projects;
  const foundational = Math.max(20, Math.floor(n * 0.02));
  const names: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; names.length < n; i++) {
    const parts = [pick(SYLLABLES), pick(SYLLABLES)];
    const sep = pick(["-", "_", ".", ""]);
    let name = `${parts.join(sep)}${sep}${i.toString(36)}`;
    if (rand() < 0.2) name = name[0]?.toUpperCase() + name.slice(1);
    const norm = name.toLowerCase().replace(/[-_.]+/g, "-");
    if (seen.has(norm)) continue;
    seen.add(norm);
    names.push(name);
  }
  const releasesOf: string[][] = [];
  for (let i = 0; i < n; i++) {
    const base = i >= n - foundational ? 25 : 3;
    releasesOf.push(versions(1 + Math.floor(base + rand() * rand() * 60), rand));
  }
  for (let i = 0; i < n; i++) {
    const name = names[i] as string;
    const vs = releasesOf[i] as string[];
    const native = rand() < 0.2;
    // frameworks and applications (the first 5%) pull in many projects, libraries a few
    const depCount =
      i >= n - foundational
        ? Math.floor(rand() * 2)
        : i < n * 0.05
          ? 5 + Math.floor(rand() * 8)
          : Math.floor(rand() * rand() * 8);
    const deps: number[] = [];
    for (let d = 0; d < depCount && i + 1 < n; d++) {
      const j =
        rand() < 0.6
          ? n - foundational + Math.floor(rand() * foundational)
          : i + 1 + Math.floor(rand() * (n - i - 1));
      if (j > i && j < n && !deps.includes(j)) deps.push(j);
    }
    const releases: Release[] = vs.map((version, k) => {
      const age = k / Math.max(1, vs.length - 1); // 0 oldest, 1 newest
      const requires: string[] = [];
      for (const j of deps) {
        const dvs = releasesOf[j] as string[];
        // newer releases need newer dependencies; some cap the next major
        const floor = dvs[Math.floor(age * 0.7 * (dvs.length - 1))] as string;
        const major = Number(floor.split(".")[0]);
        const spec = rand() < 0.25 ? `>=${floor},<${major + 1}` : rand() < 0.1 ? `~=${floor}` : `>=${floor}`;
        requires.push(`${names[j]}${spec}`);
      }
      if (rand() < 0.1) requires.push(`${pick(names.slice(-foundational))}>=0 ; python_version < "3.8"`);
      if (rand() < 0.05) requires.push(`${pick(names.slice(-foundational))}>=0 ; sys_platform == "win32"`);
      if (deps.length && rand() < 0.1) {
        const j = deps[0] as number;
        requires.push(`${names[j]}[speedups]>=0 ; extra == "fast"`);
      }
      const r: Release = {
        version,
        requires,
        tags: native
          ? age < 0.15
            ? ["cp37-cp37m-manylinux2014_x86_64"] // old releases: only for a Python we are not
            : [
                "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
                "cp311-cp311-macosx_11_0_arm64",
                "cp311-cp311-win_amd64",
              ]
          : ["py3-none-any"],
      };
      if (k === vs.length - 1 && rand() < 0.08) r.requiresPython = ">=3.12";
      else if (rand() < 0.3) r.requiresPython = ">=3.8";
      if (k > 0 && rand() < 0.02) r.yanked = true;
      return r;
    });
    if (rand() < 0.1) {
      // a release candidate of the next minor (newer than every final release)
      const [ma, mi] = (vs.at(-1) as string).split(".");
      releases.push({
        ...(releases.at(-1) as Release),
        version: `${ma}.${Number(mi) + 1}.0rc1`,
        yanked: false,
      });
    }
    add(name, releases);
  }

  // sdk-core pinning: sdk k pins core k; cores after 10 cap urllib-like below 2 (the root wants >= 2).
  const walk = 80;
  add(
    "cloud-sdk",
    Array.from({ length: walk }, (_, k) => ({
      version: `1.${k}.0`,
      requires: [`cloud-core==1.${k}.0`, `${names[n - 1]}>=0`],
      tags: ["py3-none-any"],
    })),
  );
  add(
    "cloud-core",
    Array.from({ length: walk }, (_, k) => ({
      version: `1.${k}.0`,
      requires: [k > 10 ? "urllib-like>=1.25,<2" : "urllib-like>=1.25", "date-util>=2.1"],
      tags: ["py3-none-any"],
    })),
  );
  add(
    "urllib-like",
    ["1.25.0", "1.26.0", "1.26.18", "2.0.0", "2.1.0", "2.2.1"].map((version) => ({
      version,
      requires: [],
      tags: ["py3-none-any"],
    })),
  );
  add(
    "date-util",
    ["2.1.0", "2.8.2", "2.9.0"].map((version) => ({ version, requires: [], tags: ["py3-none-any"] })),
  );

  // deep chain: deep-i v pins deep-(i+1) v; deep-9 v > 4 needs leaf < 1 (the root wants >= 1).
  const depth = 10;
  const chainVersions = 16;
  for (let i = 0; i < depth; i++) {
    add(
      `deep-${i}`,
      Array.from({ length: chainVersions }, (_, k) => ({
        version: `${k + 1}.0`,
        requires: [i + 1 < depth ? `deep-${i + 1}==${k + 1}.0` : k + 1 > 4 ? "leaf<1" : "leaf>=0.5"],
        tags: ["py3-none-any"],
      })),
    );
  }
  add(
    "leaf",
    ["0.5", "0.9", "1.0", "1.1"].map((version) => ({ version, requires: [], tags: ["py3-none-any"] })),
  );

  // diamond: left's newer releases need shared < 2, right's newer need shared >= 3.
  const sides = 30;
  for (const [side, range] of [
    ["left", (k: number) => (k >= 5 ? "shared<2" : "shared>=1")],
    ["right", (k: number) => (k >= 5 ? "shared>=3" : "shared>=1")],
  ] as const) {
    add(
      `diamond-${side}`,
      Array.from({ length: sides }, (_, k) => ({
        version: `${k}.1`,
        requires: [range(k), `diamond-base>=${Math.floor(k / 3)}`],
        tags: ["py3-none-any"],
      })),
    );
  }
  add(
    "shared",
    ["1.0", "1.5", "2.0", "3.0", "3.1"].map((version) => ({ version, requires: [], tags: ["py3-none-any"] })),
  );
  add(
    "diamond-base",
    Array.from({ length: 12 }, (_, k) => ({ version: `${k}`, requires: [], tags: ["py3-none-any"] })),
  );

  // Applications: projects near the top of the background (they pull in the most).
  const apps = names.slice(0, 40);
  return {
    projects,
    files,
    scenarios: [
      { name: "typical app (6 top-level projects)", requirements: apps.slice(0, 6) },
      { name: "sdk-core pinning (boto3-like)", requirements: ["cloud-sdk", "urllib-like>=2"] },
      { name: "deep chain (packse-like)", requirements: ["deep-0", "leaf>=1"] },
      { name: "diamond", requirements: ["diamond-left", "diamond-right"] },
      {
        name: "all of them",
        requirements: [...apps.slice(6, 10), "cloud-sdk", "urllib-like>=2", "deep-0", "leaf>=1"],
      },
    ],
  };
}
