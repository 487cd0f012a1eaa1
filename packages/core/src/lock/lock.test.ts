import { describe, expect, it } from "vitest";
import { isCoreError } from "../errors";
import { imageKey } from "../hash/hash";
import { parseDefinition } from "../spec/definition";
import { lockJsonSchema } from "./jsonSchema";
import { type Lock, lockImageKeyInput, parseLock, serializeLock, validateLock } from "./lock";
import committedSchema from "./lock.schema.json";
import { renderCondaExplicit, renderPipRequirements } from "./render";

const H = "mlenv1-sha256:".concat("a".repeat(64));
const lock = (numpyBuild = "py312h1_0"): Lock =>
  validateLock({
    lockVersion: 1,
    definitionHash: H,
    channels: ["http://127.0.0.1:9/ch"],
    platforms: {
      "linux-64": {
        conda: [
          {
            name: "python",
            version: "3.12.1",
            build: "h1_0",
            channel: "http://127.0.0.1:9/ch",
            subdir: "linux-64",
            url: "http://127.0.0.1:9/ch/linux-64/python-3.12.1-h1_0.conda",
            md5: "0".repeat(32),
            sha256: "1".repeat(64),
            depends: [],
          },
          {
            name: "numpy",
            version: "1.26.4",
            build: numpyBuild,
            channel: "http://127.0.0.1:9/ch",
            subdir: "linux-64",
            url: `http://127.0.0.1:9/ch/linux-64/numpy-1.26.4-${numpyBuild}.conda`,
            sha256: "2".repeat(64),
            depends: ["python >=3.12,<3.13"],
          },
        ],
        pip: [
          {
            name: "tqdm",
            version: "4.66.0",
            url: "http://127.0.0.1:9/files/tqdm-4.66.0-py3-none-any.whl",
            sha256: "3".repeat(64),
            requires: [],
          },
        ],
      },
    },
  });

describe("mlenv.lock", () => {
  it("round-trips through YAML with packages sorted by name", () => {
    const text = serializeLock(lock());
    const back = parseLock(text);
    expect(back).toEqual(lock());
    expect(back.platforms["linux-64"]?.conda.map((c) => c.name)).toEqual(["numpy", "python"]);
    expect(serializeLock(back)).toBe(text);
  });

  it("rejects hostile URLs and bad hashes with E_LOCK_INVALID naming the field", () => {
    const bad = structuredClone(lock()) as { platforms: Record<string, { conda: { url: string }[] }> };
    (bad.platforms["linux-64"]?.conda[0] as { url: string }).url = "http://x/a.conda\nRUN rm -rf /";
    try {
      validateLock(bad);
      expect.unreachable();
    } catch (e) {
      expect(isCoreError(e) && e.code).toBe("E_LOCK_INVALID");
      expect(String((e as Error).message)).toContain("platforms.linux-64.conda.0.url");
    }
    expect(() => parseLock("lockVersion: 1\ndefinitionHash: nope\nplatforms: {}\n")).toThrow(
      /definitionHash/,
    );
    expect(() => parseLock("lockVersion: [\n")).toThrow(/YAML/);
  });

  it("renders a conda explicit spec and pip --require-hashes lines", () => {
    expect(renderCondaExplicit(lock(), "linux-64")).toBe(
      "# platform: linux-64\n@EXPLICIT\n" +
        "http://127.0.0.1:9/ch/linux-64/numpy-1.26.4-py312h1_0.conda#sha256:".concat("2".repeat(64), "\n") +
        "http://127.0.0.1:9/ch/linux-64/python-3.12.1-h1_0.conda#".concat("0".repeat(32), "\n"),
    );
    expect(renderPipRequirements(lock(), "linux-64")).toBe(
      `tqdm @ http://127.0.0.1:9/files/tqdm-4.66.0-py3-none-any.whl --hash=sha256:${"3".repeat(64)}\n`,
    );
    expect(() => renderCondaExplicit(lock(), "osx-arm64")).toThrow(/linux-64/);
  });

  it("keys images on the locked artifacts, not on the loose definition", () => {
    const a = parseDefinition({
      name: "a",
      python: { condaDependencies: { dependencies: ["python=3.12", "numpy"] } },
    });
    const b = parseDefinition({
      name: "b",
      python: { condaDependencies: { dependencies: ["python>=3.12", "numpy>=1.20"] } },
    });
    expect(imageKey(a)).not.toBe(imageKey(b));
    const same = lockImageKeyInput(lock());
    expect(imageKey(a, { lock: same })).toBe(imageKey(b, { lock: same }));
    expect(imageKey(a, { lock: lockImageKeyInput(lock("py312h2_0")) })).not.toBe(imageKey(a, { lock: same }));
    // the definition hash recorded in the lock does not matter for the image
    expect(lockImageKeyInput({ ...lock(), definitionHash: `mlenv1-sha256:${"b".repeat(64)}` })).toEqual(same);
  });
});

describe("lock.schema.json", () => {
  it("matches the zod schema (regenerate with lockJsonSchemaText() when this fails)", () => {
    expect(committedSchema).toEqual(lockJsonSchema());
  });
});
