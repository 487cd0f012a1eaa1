import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { imageKey, parseDefinition } from "@mlenv/core";
import { makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { venvMissing } from "../../test/helpers";
import { condaSpecName, VenvCache } from "./venv";

describe("condaSpecName", () => {
  it("takes the name of channel-qualified and versioned specs", () => {
    expect(
      ["numpy>=1.2", "conda-forge::SciPy=1.11", "python 3.11.*", "pip[version='>=24']"].map(condaSpecName),
    ).toEqual(["numpy", "scipy", "python", "pip"]);
  });
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))("VenvCache (real python3 -m venv)", () => {
  const t = makeTempDir("mlenv-venv-");
  afterAll(() => t.cleanup());
  const def = parseDefinition({ name: "v" });
  const key = imageKey(def);

  it("two caches on one root (two server processes) build a venv once and both use it", async () => {
    const a = new VenvCache({ root: join(t.path, "venvs") });
    const b = new VenvCache({ root: join(t.path, "venvs") });
    const logsA: string[] = [];
    const logsB: string[] = [];
    const [ia, ib] = await Promise.all([
      a.materialise({ definition: def, imageKey: key, lock: null, log: (l) => logsA.push(l) }),
      b.materialise({ definition: def, imageKey: key, lock: null, log: (l) => logsB.push(l) }),
    ]);
    expect(ia.python).toBe(ib.python);
    expect([ia.cached, ib.cached].sort()).toEqual([false, true]);
    const all = [...logsA, ...logsB];
    expect(all.filter((l) => l.startsWith("creating venv"))).toHaveLength(1);
    expect(all.some((l) => l.startsWith("waiting for another process"))).toBe(true);
    expect(existsSync(`${a.dirFor(key)}.lock`)).toBe(false);
  }, 60_000);

  const fresh = (name: string) => {
    const d = parseDefinition({
      name,
      // the image key is over what the image holds: another base image, another key
      docker: { baseImage: `example.org/${name}:1` },
      python: {
        condaDependencies: { name: "x", dependencies: ["python=3.11", { pip: [] }], channels: ["defaults"] },
      },
    });
    return { def: d, key: imageKey(d) };
  };
  const holderOf = (host: string, pid: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ host, boot: "", pid, start: "", token: "t0", beat: 0, ...extra });
  /** A fresh definition (see fresh) whose venv lock, in a cache taking over after `staleMs`, `holder` holds. */
  const heldBy = (name: string, holder: string, staleMs: number) => {
    const { def: d, key: k } = fresh(name);
    const cache = new VenvCache({ root: join(t.path, "venvs"), lock: { staleMs, pollMs: 50 } });
    const lock = `${cache.dirFor(k)}.lock`;
    mkdirSync(join(t.path, "venvs"), { recursive: true });
    writeFileSync(lock, holder);
    return { d, k, cache, lock };
  };

  it("two machines (other host names) sharing the directory build a venv once", async () => {
    const { def: d, key: k } = fresh("two-nodes");
    const a = new VenvCache({ root: join(t.path, "shared"), lock: { host: "node-a", pollMs: 50 } });
    const b = new VenvCache({ root: join(t.path, "shared"), lock: { host: "node-b", pollMs: 50 } });
    const logs: string[] = [];
    const [ia, ib] = await Promise.all([
      a.materialise({ definition: d, imageKey: k, lock: null, log: (l) => logs.push(`a ${l}`) }),
      b.materialise({ definition: d, imageKey: k, lock: null, log: (l) => logs.push(`b ${l}`) }),
    ]);
    expect([ia.cached, ib.cached].sort()).toEqual([false, true]);
    expect(logs.filter((l) => l.includes("creating venv"))).toHaveLength(1);
    expect(logs.some((l) => /waiting for another process .*\(node-[ab], pid \d+\)/.test(l))).toBe(true);
    expect(existsSync(`${a.dirFor(k)}.lock`)).toBe(false);
  }, 60_000);

  it("a live holder on another machine is waited for while it renews the lock, whatever its pid is here", async () => {
    // pid 999999 runs nothing here: only its renewals say the holder lives
    const { d, k, cache, lock } = heldBy("live-remote", holderOf("node-z", 999999), 1000);
    let beat = 0;
    const renew = setInterval(() => writeFileSync(lock, holderOf("node-z", 999999, { beat: ++beat })), 100);
    let released = 0;
    setTimeout(() => {
      clearInterval(renew);
      rmSync(lock);
      released = Date.now();
    }, 2500);
    const logs: string[] = [];
    const i = await cache.materialise({ definition: d, imageKey: k, lock: null, log: (l) => logs.push(l) });
    expect(released).toBeGreaterThan(0);
    expect(statSync(join(cache.dirFor(k), ".mlenv-complete")).mtimeMs).toBeGreaterThanOrEqual(released - 5);
    expect(i.cached).toBe(false);
    expect(logs).toContain(
      `waiting for another process that is building venv ${cache.dirFor(k)} (node-z, pid 999999)`,
    );
  }, 60_000);

  it("a holder on another machine that stops renewing is taken over after staleMs", async () => {
    // pid 1 is alive here, which says nothing about node-z
    const { d, k, cache, lock } = heldBy("dead-remote", holderOf("node-z", 1), 800);
    const began = Date.now();
    const i = await cache.materialise({ definition: d, imageKey: k, lock: null, log: () => {} });
    expect(Date.now() - began).toBeGreaterThanOrEqual(800);
    expect(i.cached).toBe(false);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(`${lock}.takeover`)).toBe(false);
  }, 60_000);

  it("a lock of this machine is taken over at once when its process is gone or its pid runs another process", async () => {
    for (const [name, holder] of [
      ["dead-local", holderOf(hostname(), 999999)],
      ["reused-pid", holderOf(hostname(), process.pid, { start: "1" })],
    ] as const) {
      const { d, k, cache } = heldBy(name, holder, 60_000);
      const began = Date.now();
      const i = await cache.materialise({ definition: d, imageKey: k, lock: null, log: () => {} });
      expect(i.cached).toBe(false);
      expect(existsSync(i.python)).toBe(true);
      expect(Date.now() - began).toBeLessThan(30_000);
    }
  }, 90_000);

  it("user-managed environments run the given interpreter; a missing one fails clearly", async () => {
    const cache = new VenvCache({ root: join(t.path, "venvs") });
    const ok = parseDefinition({
      name: "u",
      python: { userManagedDependencies: true, interpreterPath: "python3" },
    });
    expect(
      (await cache.materialise({ definition: ok, imageKey: imageKey(ok), lock: null, log: () => {} })).python,
    ).toBe("python3");
    const bad = parseDefinition({
      name: "u",
      python: { userManagedDependencies: true, interpreterPath: "/no/such/python" },
    });
    await expect(
      cache.materialise({ definition: bad, imageKey: imageKey(bad), lock: null, log: () => {} }),
    ).rejects.toMatchObject({
      code: "E_INTERPRETER_MISSING",
    });
  });
});
