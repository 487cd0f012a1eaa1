import { existsSync, mkdirSync, writeFileSync } from "node:fs";
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

  it("a lock left by a dead process is taken over", async () => {
    const def2 = parseDefinition({
      name: "v2",
      environmentVariables: {},
      python: {
        condaDependencies: { name: "x", dependencies: ["python=3.11", { pip: [] }], channels: ["defaults"] },
      },
    });
    const key2 = imageKey(def2);
    const cache = new VenvCache({ root: join(t.path, "venvs") });
    const lock = `${cache.dirFor(key2)}.lock`;
    mkdirSync(lock, { recursive: true });
    writeFileSync(join(lock, "pid"), "999999");
    const i = await cache.materialise({ definition: def2, imageKey: key2, lock: null, log: () => {} });
    expect(i.cached).toBe(false);
    expect(existsSync(i.python)).toBe(true);
  }, 60_000);

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
