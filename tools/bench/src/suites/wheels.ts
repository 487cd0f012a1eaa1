/**
 * Private wheels: uploading a 32 MiB wheel over loopback (the server checks the zip structure
 * and limits, inflates every member with CRC-32 and RECORD sha256 checks, and stores it) vs
 * CPython's zipfile.testzip() on the same file (inflate + CRC only, timed inside Python: a lower
 * bound for any real validation); and latency of the simple index's project page (PEP 691 JSON)
 * with 50 files, sequential and 16 in flight.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "@mlenv/server";
import { buildWheel, makeTempDir } from "@mlenv/test-utils";
import { type BenchSuite, median, percentile, timeRuns } from "../harness";

function payload(mb: number): Record<string, Uint8Array | string> {
  const files: Record<string, Uint8Array | string> = {};
  // Half random (incompressible), half source-like text: roughly what a compiled wheel holds.
  for (let i = 0; i < mb; i++) {
    files[`benchpkg/data${i}.bin`] = randomBytes(512 * 1024);
    files[`benchpkg/mod${i}.py`] = `def f${i}(x):\n    return x * ${i}\n`.repeat(20_000).slice(0, 512 * 1024);
  }
  return files;
}

export const suite: BenchSuite = {
  name: "wheels",
  async run(ctx) {
    const t = makeTempDir("mlenv-bench-wheels-");
    try {
      const MB = 32;
      const w = buildWheel({ name: "benchpkg", version: "1.0", files: payload(MB) });
      const mib = w.bytes.length / 1024 / 1024;
      const token = `mlenv_${randomBytes(32).toString("base64url")}`;
      const srv = await startServer({
        dataDir: join(t.path, "data"),
        bootstrapToken: token,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
      });
      try {
        const headers = { authorization: `Bearer ${token}` };
        const up = await timeRuns(
          async () => {
            const res = await fetch(`${srv.url}/upload/v1/wheels/${w.filename}`, {
              method: "PUT",
              headers,
              body: w.bytes,
            });
            if (!res.ok) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
          },
          { runs: 3, warmup: 0 },
        );
        const ours = median(up);
        const file = join(t.path, w.filename);
        writeFileSync(file, w.bytes);
        const py = spawnSync(
          "python3",
          [
            "-c",
            "import sys,time,zipfile\nts=[]\nfor _ in range(6):\n t=time.perf_counter(); zipfile.ZipFile(sys.argv[1]).testzip(); ts.append(time.perf_counter()-t)\nts=sorted(ts[1:]); print(ts[len(ts)//2]*1000)",
            file,
          ],
          { encoding: "utf8" },
        );
        const theirs = Number(py.stdout.trim());
        const extra = {
          wheelMiB: Number(mib.toFixed(1)),
          oursMiBps: Number((mib / (ours / 1000)).toFixed(0)),
          firstMs: Math.round(up[0]!),
        };
        if (py.status === 0 && Number.isFinite(theirs)) {
          ctx.compare({
            bench: "wheels.upload-validate",
            ours,
            peer: "cpython-zipfile-testzip",
            theirs,
            unit: "ms",
            extra,
          });
        } else {
          ctx.report({ bench: "wheels.upload-validate", value: ours, unit: "ms", extra });
        }

        for (let i = 0; i < 50; i++) {
          const small = buildWheel({ name: "indexed", version: `1.${i}`, requiresPython: ">=3.8" });
          const res = await fetch(`${srv.url}/upload/v1/wheels/${small.filename}`, {
            method: "PUT",
            headers,
            body: small.bytes,
          });
          if (!res.ok) throw new Error(`upload failed: ${res.status}`);
        }
        const page = `${srv.url}/pypi/default/simple/indexed/`;
        const get = async () => {
          const t0 = performance.now();
          const res = await fetch(page, {
            headers: { ...headers, accept: "application/vnd.pypi.simple.v1+json" },
          });
          await res.arrayBuffer();
          if (!res.ok) throw new Error(`index failed: ${res.status}`);
          return performance.now() - t0;
        };
        for (let i = 0; i < 50; i++) await get();
        const seq: number[] = [];
        for (let i = 0; i < 500; i++) seq.push(await get());
        const started = performance.now();
        let done = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (done < 2000) {
              done++;
              await get();
            }
          }),
        );
        const rps = 2000 / ((performance.now() - started) / 1000);
        ctx.report({
          bench: "wheels.index-page",
          value: median(seq),
          unit: "ms",
          extra: {
            p99: Number(percentile(seq, 99).toFixed(2)),
            rpsConcurrency16: Math.round(rps),
            files: 50,
          },
        });
      } finally {
        await srv.close();
      }
    } finally {
      t.cleanup();
    }
  },
};
