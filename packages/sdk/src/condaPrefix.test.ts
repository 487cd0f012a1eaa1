import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { fromExistingCondaEnvironment, readCondaPrefix } from "./condaPrefix";
import { isMlenvError } from "./errors";

const t = makeTempDir();
afterAll(() => t.cleanup());

/** A fake conda prefix laid out the way conda and pip leave one. */
function buildPrefix(root: string): string {
  const prefix = join(root, "envs", "demo");
  const meta = join(prefix, "conda-meta");
  mkdirSync(meta, { recursive: true });
  const rec = (name: string, version: string, build: string, channel: string) =>
    writeFileSync(
      join(meta, `${name}-${version}-${build}.json`),
      JSON.stringify({ name, version, build, build_number: 0, channel, subdir: "linux-64", files: [] }),
    );
  rec("python", "3.11.9", "hb806964_0_cpython", "https://conda.anaconda.org/conda-forge/linux-64");
  rec("numpy", "1.26.4", "py311h64a7726_0", "https://conda.anaconda.org/conda-forge/linux-64");
  rec("pytorch", "2.3.0", "py3.11_cpu_0", "https://conda.anaconda.org/pytorch/linux-64");
  rec("pip", "24.2", "pyh8b19718_1", "https://conda.anaconda.org/conda-forge/noarch");
  writeFileSync(join(meta, "history"), "==> 2024-01-01 <==\n");
  const site = join(prefix, "lib", "python3.11", "site-packages");
  const dist = (dirName: string, name: string, version: string, installer: string | null) => {
    const d = join(site, dirName);
    mkdirSync(d, { recursive: true });
    writeFileSync(
      join(d, "METADATA"),
      `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n\nName: not-this\n`,
    );
    if (installer !== null) writeFileSync(join(d, "INSTALLER"), `${installer}\n`);
  };
  dist("numpy-1.26.4.dist-info", "numpy", "1.26.4", "conda");
  dist("requests-2.32.3.dist-info", "requests", "2.32.3", "pip");
  dist("Scikit_Learn-1.4.2.dist-info", "scikit-learn", "1.4.2", "pip");
  dist("pip-24.2.dist-info", "pip", "24.2", null);
  mkdirSync(join(site, "not_a_dist"), { recursive: true });
  return prefix;
}

describe("fromExistingCondaEnvironment", () => {
  const prefix = buildPrefix(t.path);

  it("reads conda-meta records and pip-installed dist-info, skipping conda-owned ones", () => {
    const pkgs = readCondaPrefix(prefix);
    expect(pkgs.filter((p) => p.installer === "conda").map((p) => p.name)).toEqual([
      "numpy",
      "pip",
      "python",
      "pytorch",
    ]);
    expect(pkgs.filter((p) => p.installer === "pip")).toEqual([
      { name: "requests", version: "2.32.3", installer: "pip" },
      { name: "scikit-learn", version: "1.4.2", installer: "pip" },
    ]);
  });

  it("makes a definition pinned to the installed versions, channels in order of first use", () => {
    const env = fromExistingCondaEnvironment("demo", prefix);
    const cd = env.python.condaDependencies;
    expect(cd.channels).toEqual(["conda-forge", "pytorch"]);
    expect(cd.condaPackages).toEqual(["numpy=1.26.4", "pip=24.2", "python=3.11.9", "pytorch=2.3.0"]);
    expect(cd.pipPackages).toEqual(["requests==2.32.3", "scikit-learn==1.4.2"]);
    expect(cd.pythonVersion).toBe("3.11.9");
    const withBuilds = fromExistingCondaEnvironment("demo", prefix, { includeBuilds: true });
    expect(withBuilds.python.condaDependencies.condaPackages).toContain("numpy=1.26.4=py311h64a7726_0");
  });

  it("takes a conda environment name, looked up where conda looks", () => {
    // prefix = <t>/envs/demo: the envs directory of a root prefix at <t>
    const root = t.path;
    const pinned = (env: ReturnType<typeof fromExistingCondaEnvironment>) =>
      env.python.condaDependencies.pythonVersion;
    const home = join(t.path, "home");
    mkdirSync(home, { recursive: true });
    // CONDA_ENVS_PATH (a path list)
    expect(
      pinned(
        fromExistingCondaEnvironment("x", "demo", {
          env: { HOME: home, CONDA_ENVS_PATH: `/nowhere:${join(root, "envs")}` },
        }),
      ),
    ).toBe("3.11.9");
    // ~/.conda/environments.txt
    mkdirSync(join(home, ".conda"), { recursive: true });
    writeFileSync(join(home, ".conda", "environments.txt"), `/opt/other/envs/x\n${prefix}\n`);
    expect(pinned(fromExistingCondaEnvironment("x", "demo", { env: { HOME: home } }))).toBe("3.11.9");
    writeFileSync(join(home, ".conda", "environments.txt"), "");
    // the root prefix's envs/ (conda's executable lives in <root>/bin)
    expect(
      pinned(
        fromExistingCondaEnvironment("x", "demo", {
          env: { HOME: home, CONDA_EXE: join(root, "bin", "conda") },
        }),
      ),
    ).toBe("3.11.9");
    // an activated environment names the root too
    expect(
      pinned(fromExistingCondaEnvironment("x", "demo", { env: { HOME: home, CONDA_PREFIX: prefix } })),
    ).toBe("3.11.9");
    // nowhere: the error says where it looked
    let caught: unknown;
    try {
      fromExistingCondaEnvironment("x", "absent", {
        env: { HOME: home, CONDA_ENVS_PATH: join(root, "envs") },
      });
    } catch (e) {
      caught = e;
    }
    expect(isMlenvError(caught, "E_CONDA_PREFIX")).toBe(true);
    expect((caught as Error).message).toContain(join(root, "envs", "absent"));
    expect((caught as Error).message).toContain("environments.txt");
  });

  it("refuses a directory that is not a conda prefix", () => {
    let caught: unknown;
    try {
      fromExistingCondaEnvironment("x", t.path);
    } catch (e) {
      caught = e;
    }
    expect(isMlenvError(caught, "E_CONDA_PREFIX")).toBe(true);
  });

  it("refuses a corrupt conda-meta record with a message naming the file", () => {
    const bad = join(t.path, "bad");
    mkdirSync(join(bad, "conda-meta"), { recursive: true });
    writeFileSync(join(bad, "conda-meta", "x-1-0.json"), "{not json");
    expect(() => readCondaPrefix(bad)).toThrow(/conda-meta\/x-1-0\.json/);
  });
});
