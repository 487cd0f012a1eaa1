/**
 * conda installs without conda (@mlenv/conda-installer) on a synthetic environment of 150
 * packages and about 20,000 files (two thirds .conda, one third .tar.bz2, a few text prefix
 * placeholders), served from a loopback channel:
 * - warm install (package cache filled) into a new prefix vs `cp -al` of the same installed tree
 *   (the floor: one hard link per file), target ratio <= 1.5;
 * - extraction of every .conda / .tar.bz2 (decompress, untar, write files) vs the `zstd -d` /
 *   `bzip2 -d` command-line tools decompressing the same archives' compressed streams, target <= 2;
 * - cold install time and the peak RSS of a cold install in a fresh process.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  archiveFormat,
  decodePackage,
  extractPackage,
  installLock,
  zstdBackend,
} from "@mlenv/conda-installer";
import type { Lock } from "@mlenv/core";
import {
  type BuiltCondaPackage,
  buildCondaPackage,
  condaArchiveToolsMissing,
  type FixtureFile,
  serveCondaChannel,
  writeCondaChannel,
} from "@mlenv/test-utils";
import { unzipSync } from "fflate";
import { type BenchSuite, isBenchChild, median, runBenchChild } from "../harness";
import { prng } from "../random";

const PACKAGES = 150;
const FILES = 20_000;
const PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3";

const WORDS = Array.from(
  { length: 400 },
  (_, i) => `w${(i * 2654435761).toString(36).slice(0, 3 + (i % 7))}`,
);

/** Deterministic pseudo-text (compresses like source code and data files do, about 3-5x). */
function text(rand: () => number, size: number): string {
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const w = WORDS[Math.floor(rand() * rand() * WORDS.length)] as string;
    const sep = rand() < 0.1 ? "\n" : rand() < 0.05 ? ` ${Math.floor(rand() * 1e6)} ` : " ";
    parts.push(w, sep);
    n += w.length + sep.length;
  }
  return parts.join("").slice(0, size);
}

async function buildSynthetic(): Promise<BuiltCondaPackage[]> {
  const rand = prng(42);
  const out: BuiltCondaPackage[] = [];
  const perPkg = Math.round(FILES / PACKAGES);
  for (let i = 0; i < PACKAGES; i++) {
    const name = `synth${String(i).padStart(3, "0")}`;
    const files: FixtureFile[] = [];
    for (let f = 0; f < perPkg; f++) {
      const dir = ["lib", "share", `lib/python3.11/site-packages/${name}`, "include", "etc"][f % 5] as string;
      const size = Math.floor(200 + rand() ** 3 * 24_000);
      files.push({ path: `${dir}/${name}/f${f}.txt`, data: text(rand, size) });
    }
    if (i % 10 === 0) {
      files.push({
        path: `bin/${name}-config`,
        data: `#!/bin/sh\necho ${PLACEHOLDER}/lib\n`,
        placeholder: { prefix: PLACEHOLDER, mode: "text" },
      });
    }
    out.push(
      await buildCondaPackage({
        name,
        version: "1.0",
        build: "h0_0",
        format: i % 3 === 2 ? "tar.bz2" : "conda",
        files,
      }),
    );
  }
  return out;
}

function lockFor(url: string, pkgs: BuiltCondaPackage[]): Lock {
  return {
    lockVersion: 1,
    definitionHash: `mlenv1-sha256:${"0".repeat(64)}`,
    channels: [url],
    indexes: [],
    platforms: {
      "linux-64": {
        pip: [],
        conda: pkgs.map((p) => ({
          name: String(p.record.name),
          version: String(p.record.version),
          build: String(p.record.build),
          buildNumber: 0,
          channel: url,
          subdir: p.subdir,
          url: `${url}/${p.subdir}/${p.filename}`,
          sha256: String(p.record.sha256),
          depends: [],
        })),
      },
    },
  };
}

/**
 * Wall and CPU milliseconds of work in this process. CPU time is what the ratios compare: the
 * machines this runs on are shared, and wall time there mostly measures the neighbours.
 */
async function ours(f: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c = process.cpuUsage();
  const t = performance.now();
  await f();
  const d = process.cpuUsage(c);
  return { wall: performance.now() - t, cpu: (d.user + d.system) / 1000 };
}

/** Wall and CPU milliseconds (children's user+sys, from bash's `times`) of a shell command. */
function peer(script: string): { wall: number; cpu: number } {
  const t = performance.now();
  const r = spawnSync("bash", ["-c", `${script} >/dev/null || exit 1\ntimes`], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  const wall = performance.now() - t;
  if (r.status !== 0) throw new Error(`peer command failed: ${script.slice(0, 200)}: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  const secs = [...(lines.at(-1) ?? "").matchAll(/(\d+)m([\d.]+)s/g)].map(
    (m) => Number(m[1]) * 60 + Number(m[2]),
  );
  return { wall, cpu: secs.reduce((a, b) => a + b, 0) * 1000 };
}

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const med = (xs: { wall: number; cpu: number }[]) => ({
  wall: Math.round(median(xs.map((x) => x.wall))),
  cpu: Math.round(median(xs.map((x) => x.cpu))),
});

/** Child mode: one cold install into argv's prefix with argv's cache; prints peak RSS (KiB) and ms. */
async function child(): Promise<void> {
  const [lockFile, prefix, cacheDir] = process.argv.slice(2) as [string, string, string];
  const { readFileSync } = await import("node:fs");
  const lock = JSON.parse(readFileSync(lockFile, "utf8")) as Lock;
  const t = performance.now();
  await installLock({ prefix, lock, cacheDir, platform: "linux-64", pip: false });
  process.stdout.write(`${process.resourceUsage().maxRSS} ${performance.now() - t}\n`);
}

async function coldInChild(
  lockFile: string,
  prefix: string,
  cacheDir: string,
): Promise<{ rssMiB: number; ms: number }> {
  const out = await runBenchChild(import.meta.url, [lockFile, prefix, cacheDir], {
    MLENV_BENCH_INSTALL_CHILD: "1",
  });
  const [rss, t] = out.trim().split(" ").map(Number);
  return { rssMiB: Math.round((rss as number) / 1024), ms: t as number };
}

export const suite: BenchSuite = {
  name: "install",
  requires: ["zstd", "bzip2"],
  async run(ctx) {
    const missing = condaArchiveToolsMissing();
    if (missing) {
      ctx.log(`SKIP install: ${missing}`);
      return;
    }
    const work = mkdtempSync(join(tmpdir(), "mlenv-bench-install-"));
    try {
      ctx.log(`building ${PACKAGES} synthetic packages (~${FILES} files)`);
      const pkgs = await buildSynthetic();
      const channelDir = join(work, "channel");
      writeCondaChannel(channelDir, pkgs);
      const channel = await serveCondaChannel({ dir: channelDir });
      try {
        const lock = lockFor(channel.url, pkgs);
        const lockFile = join(work, "lock.json");
        writeFileSync(lockFile, JSON.stringify(lock));
        const cacheDir = join(work, "pkgs");
        const totalBytes = pkgs.reduce((n, p) => n + p.bytes.length, 0);

        // cold install in a fresh process: time and peak RSS
        const cold = await coldInChild(lockFile, join(work, "env-cold"), cacheDir);
        const fileCount = Number(
          spawnSync("sh", ["-c", `find '${join(work, "env-cold")}' -type f | wc -l`], {
            encoding: "utf8",
          }).stdout.trim(),
        );
        ctx.report({
          bench: "install: cold (fetch+extract+link)",
          value: Math.round(cold.ms),
          unit: "ms",
          extra: {
            packages: PACKAGES,
            files: fileCount,
            archiveMiB: Number((totalBytes / 2 ** 20).toFixed(1)),
            peakRssMiB: cold.rssMiB,
            zstd: zstdBackend(),
          },
        });

        // warm install vs cp -al of the same installed tree
        const warm: { wall: number; cpu: number }[] = [];
        const cp: { wall: number; cpu: number }[] = [];
        for (let i = 0; i < 5; i++) {
          const a = join(work, `env-warm-${i}`);
          warm.push(
            await ours(() => installLock({ prefix: a, lock, cacheDir, platform: "linux-64", pip: false })),
          );
          const b = join(work, `env-cp-${i}`);
          cp.push(peer(`cp -al ${q(join(work, "env-cold"))} ${q(b)}`));
          rmSync(a, { recursive: true, force: true });
          rmSync(b, { recursive: true, force: true });
        }
        const w = med(warm);
        const c = med(cp);
        ctx.compare({
          bench: "install: warm vs cp -al (CPU)",
          ours: w.cpu,
          peer: "cp -al",
          theirs: c.cpu,
          unit: "ms",
          extra: { target: 1.5, files: fileCount, oursWallMs: w.wall, cpWallMs: c.wall },
        });

        // decoding and extraction vs the command-line tools on the same archives
        const raw = join(work, "raw");
        mkdirSync(raw);
        const condaMembers: string[] = [];
        const bz2Files: string[] = [];
        for (const p of pkgs) {
          if (archiveFormat(p.filename) === "conda") {
            for (const [n, data] of Object.entries(
              unzipSync(p.bytes, { filter: (f) => f.name.endsWith(".tar.zst") }),
            )) {
              const f = join(raw, `${p.filename}-${n}`);
              writeFileSync(f, data);
              condaMembers.push(f);
            }
          } else {
            const f = join(raw, p.filename);
            writeFileSync(f, p.bytes);
            bz2Files.push(f);
          }
        }
        for (const format of ["conda", "tar.bz2"] as const) {
          const set = pkgs.filter((p) => archiveFormat(p.filename) === format);
          const files = format === "conda" ? condaMembers : bz2Files;
          const tool = format === "conda" ? "zstd" : "bzip2";
          const mib = set.reduce((n, p) => n + p.bytes.length, 0) / 2 ** 20;
          const dec: { wall: number; cpu: number }[] = [];
          const decPeer: { wall: number; cpu: number }[] = [];
          const ext: { wall: number; cpu: number }[] = [];
          const extPeer: { wall: number; cpu: number }[] = [];
          for (let i = 0; i < 3; i++) {
            dec.push(
              await ours(async () => {
                for (const p of set) await decodePackage({ bytes: p.bytes, format, label: p.filename });
              }),
            );
            decPeer.push(peer(`${tool} -d -q -c ${files.map(q).join(" ")}`));
            const dest = join(work, `x-${format}-${i}`);
            ext.push(
              await ours(async () => {
                for (const [j, p] of set.entries())
                  await extractPackage({
                    bytes: p.bytes,
                    format,
                    dest: join(dest, String(j)),
                    label: p.filename,
                  });
              }),
            );
            rmSync(dest, { recursive: true, force: true });
            const destPeer = join(work, `xp-${format}-${i}`);
            extPeer.push(
              peer(
                files
                  .map(
                    (f, j) =>
                      `mkdir -p ${q(join(destPeer, String(j)))} && ${tool} -d -q -c ${q(f)} | tar -x -C ${q(join(destPeer, String(j)))}`,
                  )
                  .join(" && "),
              ),
            );
            rmSync(destPeer, { recursive: true, force: true });
          }
          const d = med(dec);
          const dp = med(decPeer);
          const e = med(ext);
          const ep = med(extPeer);
          const backend: Record<string, string> = {
            decoder: format === "conda" ? zstdBackend() : "@foxglove/wasm-bz2",
          };
          ctx.compare({
            bench: `install: decode .${format} (CPU)`,
            ours: d.cpu,
            peer: `${tool} -d`,
            theirs: dp.cpu,
            unit: "ms",
            extra: {
              target: 2,
              archives: set.length,
              MiB: Number(mib.toFixed(1)),
              oursMiBps: Number((mib / (d.cpu / 1000)).toFixed(1)),
              oursWallMs: d.wall,
              peerWallMs: dp.wall,
              ...backend,
            },
          });
          ctx.compare({
            bench: `install: extract .${format} to disk (CPU)`,
            ours: e.cpu,
            peer: `${tool} -d | tar -x`,
            theirs: ep.cpu,
            unit: "ms",
            extra: { oursWallMs: e.wall, peerWallMs: ep.wall, ...backend },
          });
        }
        ctx.log(
          `peak RSS of this bench process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; files in cache entries: ${readdirSync(cacheDir).length}`,
        );
      } finally {
        await channel.close();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

if (isBenchChild(import.meta.url, "MLENV_BENCH_INSTALL_CHILD")) {
  child().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
