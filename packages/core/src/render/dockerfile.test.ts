import { describe, expect, it } from "vitest";
import { defaultCoreConfig } from "../config";
import { definitionHash, imageKey } from "../hash/hash";
import { definitionCudaVersion } from "../hash/normalize";
import { type EnvironmentDefinitionInput, parseDefinition } from "../spec/definition";
import { ImageLabels, renderDockerBuild } from "./dockerfile";

const input: EnvironmentDefinitionInput = {
  name: "train",
  environmentVariables: { RUNTIME_ONLY: "1" },
  docker: { systemPackages: ["libgl1", "curl"] },
  python: {
    condaDependencies: {
      name: "ignored",
      channels: ["conda-forge"],
      dependencies: [
        "python=3.11",
        "numpy=1.26",
        { pip: ["requests==2.31.0", "--index-url http://127.0.0.1:9/simple"] },
      ],
      variables: { OMP_NUM_THREADS: "4", QUOTED: 'a"b$c' },
    },
  },
};
const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** Every fragment occurs in `dockerfile`, their first occurrences in the given order. */
function expectInOrder(dockerfile: string, fragments: string[]): void {
  const positions = fragments.map((s) => dockerfile.indexOf(s));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
}

describe("renderDockerBuild", () => {
  it("orders layers for cache reuse and labels the image with both hashes", () => {
    const def = parseDefinition(input);
    const build = renderDockerBuild(def);
    // No BuildKit frontend directive: it would pull an image, and builds run offline.
    expect(build.dockerfile).not.toContain("syntax=");
    expectInOrder(build.dockerfile, [
      `FROM ${defaultCoreConfig.baseImages.cpu}`,
      "RUN apt-get update",
      "COPY environment.yml",
      "RUN micromamba create -y -p /opt/conda/envs/mlenv -f /tmp/mlenv/environment.yml",
      "COPY requirements.txt",
      "RUN /opt/conda/envs/mlenv/bin/python -m pip install",
      "ENV PATH=/opt/conda/envs/mlenv/bin:$PATH",
      "LABEL ",
      'CMD ["/opt/conda/envs/mlenv/bin/python"]',
    ]);
    expect(build.dockerfile).toContain("install -y --no-install-recommends curl libgl1 &&");
    expect(build.dockerfile).toContain(`${ImageLabels.definitionHash}="${definitionHash(def)}"`);
    expect(build.dockerfile).toContain(`${ImageLabels.imageKey}="${imageKey(def)}"`);
    expect(build.definitionHash).toBe(definitionHash(def));
    expect(build.imageKey).toBe(imageKey(def));
    expect(build.dockerfile).toContain('OMP_NUM_THREADS="4"');
    expect(build.dockerfile).toContain('QUOTED="a\\"b\\$c"');
    expect(build.dockerfile).not.toContain("RUNTIME_ONLY");
    expect(Object.keys(build.context).sort()).toEqual(["Dockerfile", "environment.yml", "requirements.txt"]);
    expect(text(build.context.Dockerfile)).toBe(build.dockerfile);
    expect(text(build.context["environment.yml"])).toBe(
      "channels:\n  - conda-forge\ndependencies:\n  - numpy=1.26\n  - python=3.11\n",
    );
    expect(text(build.context["requirements.txt"])).toBe(
      "--index-url http://127.0.0.1:9/simple\nrequests==2.31.0\n",
    );
  });

  it("renders the same build context for definitions with the same image key", () => {
    const a = parseDefinition(input);
    const b = parseDefinition({
      ...input,
      name: "other",
      environmentVariables: {},
      python: {
        condaDependencies: {
          channels: ["conda-forge"],
          dependencies: [
            { pip: ["--index-url http://127.0.0.1:9/simple", "Requests == 2.31.0"] },
            "numpy = 1.26",
            "python=3.11",
          ],
          variables: { QUOTED: 'a"b$c', OMP_NUM_THREADS: "4" },
        },
      },
    });
    expect(imageKey(a)).toBe(imageKey(b));
    const ca = renderDockerBuild(a).context;
    const cb = renderDockerBuild(b).context;
    expect(text(ca["environment.yml"])).toBe(text(cb["environment.yml"]));
    expect(text(ca["requirements.txt"])).toBe(text(cb["requirements.txt"]));
    const strip = (s: string | undefined) => s?.replace(/definition-hash="[^"]+"/, "");
    expect(strip(text(ca.Dockerfile))).toBe(strip(text(cb.Dockerfile)));
  });

  it("picks the GPU default for CUDA packages or docker.gpuSupport, and keys the image on it", () => {
    const cpu = parseDefinition(input);
    const cuda = parseDefinition({
      ...input,
      python: { condaDependencies: { dependencies: ["python=3.11", "pytorch::pytorch-cuda=11.7"] } },
    });
    const pip = parseDefinition({
      name: "p",
      python: {
        condaDependencies: { dependencies: ["python=3.11", { pip: ["nvidia-cudnn-cu12==9.1.0.70"] }] },
      },
    });
    const asked = parseDefinition({ ...input, docker: { gpuSupport: true } });
    const localVersion = parseDefinition({
      name: "lv",
      python: { condaDependencies: { dependencies: ["python=3.11", { pip: ["torch==2.3.0+cu121"] }] } },
    });
    const build = parseDefinition({
      name: "bs",
      python: { condaDependencies: { dependencies: ["python=3.11", "pytorch=2.3=*cuda*"] } },
    });
    for (const d of [cuda, pip, asked, localVersion, build]) {
      const b = renderDockerBuild(d);
      expect(b.gpu).toBe(true);
      expect(b.dockerfile).toContain(`FROM ${defaultCoreConfig.baseImages.gpu}\n`);
    }
    expect(renderDockerBuild(cpu).gpu).toBe(false);
    const channelOnly = parseDefinition({
      name: "c",
      python: { condaDependencies: { dependencies: ["python=3.11", "cuda-tools-mirror::numpy=1.26"] } },
    });
    expect(renderDockerBuild(channelOnly).gpu).toBe(false);
    const config = {
      ...defaultCoreConfig,
      baseImages: { cpu: defaultCoreConfig.baseImages.cpu, gpu: "gpu/base:2" },
    };
    expect(renderDockerBuild(cuda, { config }).dockerfile).toContain("FROM gpu/base:2\n");
    expect(imageKey(cuda, { config })).not.toBe(imageKey(cuda));
    // An explicit non-default base image is never swapped.
    const own = parseDefinition({
      ...input,
      docker: { baseImage: "nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04" },
    });
    expect(renderDockerBuild(own).dockerfile).toContain(
      "FROM nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04\n",
    );
  });

  it("builds a definition that did not choose a base image on the configured defaults", () => {
    // what createDefinition, the SDK's new Environment() and scaffold write: core's built-in image
    const plain = parseDefinition({ name: "plain" });
    expect(plain.docker.baseImage).toBe(defaultCoreConfig.baseImages.cpu);
    const config = {
      ...defaultCoreConfig,
      baseImages: { cpu: "mlenv/base-cpu:bookworm", gpu: "site/gpu:1" },
    };
    const build = renderDockerBuild(plain, { config });
    expect(build.baseImage).toBe("mlenv/base-cpu:bookworm");
    expect(build.dockerfile).toContain("FROM mlenv/base-cpu:bookworm\n");
    // the image key names the image really used
    expect(build.imageKey).toBe(imageKey(plain, { config }));
    expect(imageKey(plain, { config })).not.toBe(imageKey(plain));
    const configured = parseDefinition({ name: "plain" }, { config });
    expect(imageKey(configured, { config })).toBe(imageKey(plain, { config }));
    const gpu = parseDefinition({ name: "g", docker: { gpuSupport: true } });
    expect(renderDockerBuild(gpu, { config }).dockerfile).toContain("FROM site/gpu:1\n");
    const builtInGpu = parseDefinition({
      name: "g2",
      docker: { baseImage: defaultCoreConfig.baseImages.gpu },
    });
    expect(renderDockerBuild(builtInGpu, { config }).dockerfile).toContain("FROM site/gpu:1\n");
    // a chosen image stays
    const own = parseDefinition({ name: "o", docker: { baseImage: "python:3.12-slim" } });
    expect(renderDockerBuild(own, { config }).dockerfile).toContain("FROM python:3.12-slim\n");
  });

  it("combines a private registry address with the base image as the reference does", () => {
    const def = parseDefinition({
      name: "p",
      docker: {
        baseImage: "private/base:1",
        baseImageRegistry: { address: "https://registry.example.com:5000/" },
      },
    });
    expect(renderDockerBuild(def).dockerfile).toContain("FROM registry.example.com:5000/private/base:1\n");
    const already = parseDefinition({
      name: "p",
      docker: {
        baseImage: "registry.example.com:5000/private/base:1",
        baseImageRegistry: { address: "registry.example.com:5000" },
      },
    });
    expect(renderDockerBuild(already).dockerfile).toContain(
      "FROM registry.example.com:5000/private/base:1\n",
    );
    // even the default image name is taken from the private registry when one is named
    const mirrored = parseDefinition({
      name: "m",
      docker: { baseImageRegistry: { address: "mirror.example.com" } },
    });
    expect(renderDockerBuild(mirrored).baseImage).toBe(
      `mirror.example.com/${defaultCoreConfig.baseImages.cpu}`,
    );
    const bad = parseDefinition({
      name: "b",
      docker: { baseImage: "private/base:1", baseImageRegistry: { address: "not a host" } },
    });
    expect(() => renderDockerBuild(bad)).toThrow(/registry address like/);
  });

  it("builds a GPU definition's conda environment for its __cuda (no driver during a build)", () => {
    const gpu = parseDefinition({ ...input, docker: { gpuSupport: true } });
    // default: the CUDA of the GPU base image's tag (mambaorg/micromamba:…-cuda-12.1.1)
    expect(definitionCudaVersion(gpu)).toBe("12.1");
    expect(renderDockerBuild(gpu).dockerfile).toContain(
      "RUN CONDA_OVERRIDE_CUDA=12.1 micromamba create -y -p /opt/conda/envs/mlenv -f /tmp/mlenv/environment.yml",
    );
    const pinned = parseDefinition({ ...input, docker: { gpuSupport: true, cudaVersion: "12.4" } });
    expect(renderDockerBuild(pinned).dockerfile).toContain("RUN CONDA_OVERRIDE_CUDA=12.4 micromamba create");
    expect(definitionHash(pinned)).not.toBe(definitionHash(gpu));
    // CPU definitions: no __cuda, the Dockerfile and hash are as before the field existed
    expect(definitionCudaVersion(parseDefinition(input))).toBeNull();
    expect(renderDockerBuild(parseDefinition(input)).dockerfile).not.toContain("CONDA_OVERRIDE_CUDA");
    const hostile = parseDefinition({ ...input, docker: { gpuSupport: true, cudaVersion: "12; rm -rf /" } });
    expect(() => renderDockerBuild(hostile)).toThrow(/cudaVersion|CUDA version/);
  });

  it("uses a custom Dockerfile as the base stage", () => {
    const def = parseDefinition({
      ...input,
      docker: { baseDockerfile: "FROM ubuntu:22.04 AS base\nRUN echo hi\n" },
    });
    const build = renderDockerBuild(def);
    expect(build.baseImage).toBeNull();
    expect(build.dockerfile.startsWith("FROM ubuntu:22.04 AS base\nRUN echo hi\n")).toBe(true);
    expect(build.dockerfile.match(/^FROM /gm)).toHaveLength(1);
    expect(build.dockerfile.indexOf("RUN echo hi")).toBeLessThan(
      build.dockerfile.indexOf("COPY environment.yml"),
    );
  });

  it("skips conda and pip for user-managed dependencies and records the interpreter", () => {
    const def = parseDefinition({
      name: "um",
      docker: { baseImage: "python:3.12-slim" },
      python: { userManagedDependencies: true, interpreterPath: "/usr/local/bin/python3" },
    });
    const build = renderDockerBuild(def);
    expect(build.dockerfile).not.toMatch(/micromamba|pip install|COPY/);
    expect(build.dockerfile).toContain('MLENV_PYTHON="/usr/local/bin/python3"');
    expect(build.dockerfile).toContain('CMD ["/usr/local/bin/python3"]');
    expect(Object.keys(build.context)).toEqual(["Dockerfile"]);
  });

  it("installs a lock instead of the environment.yml, with pip --require-hashes", () => {
    const def = parseDefinition(input);
    const lock = {
      condaExplicit: "@EXPLICIT\nhttp://127.0.0.1:9/linux-64/python-3.11.0-0.conda#abc\n",
      pipRequirements: "requests @ http://127.0.0.1:9/r.whl --hash=sha256:00\n",
      imageKeyInput: { locked: 1 },
    };
    const build = renderDockerBuild(def, { lock });
    expect(build.dockerfile).toContain("--file /tmp/mlenv/conda-explicit.txt");
    expect(build.dockerfile).toContain("--require-hashes --no-deps -r /tmp/mlenv/requirements.txt");
    expect(text(build.context["conda-explicit.txt"])).toBe(lock.condaExplicit);
    expect(build.context["environment.yml"]).toBeUndefined();
    expect(build.imageKey).toBe(imageKey(def, { lock: lock.imageKeyInput }));
    expect(build.imageKey).not.toBe(imageKey(def));
  });

  it.each([
    [
      "a pip line",
      { python: { condaDependencies: { dependencies: ["python=3.11", { pip: ["x\nRUN rm -rf /"] }] } } },
    ],
    [
      "a conda variable",
      { python: { condaDependencies: { dependencies: ["python=3.11"], variables: { A: "$(id)" } } } },
    ],
    ["a system package", { docker: { systemPackages: ["curl; rm -rf /"] } }],
    ["the base image", { docker: { baseImage: "ubuntu:22.04`id`" } }],
  ])("refuses hostile input in %s instead of escaping it into a RUN", (_what, patch) => {
    const def = parseDefinition({ name: "h", ...patch });
    expect(() => renderDockerBuild(def)).toThrow(expect.objectContaining({ code: "E_RENDER_REFUSED" }));
  });

  it("renders a venv instead of a conda environment when the base image has no conda", () => {
    const def = parseDefinition({
      name: "v",
      docker: { baseImage: "mlenv/base-cpu:bookworm" },
      python: { condaDependencies: { dependencies: ["python=3.11", "pip", { pip: ["requests==2.31.0"] }] } },
    });
    const build = renderDockerBuild(def, { condaExecutable: null });
    expect(build.dockerfile).toContain("RUN python3 -m venv /opt/mlenv/venv\n");
    expect(build.dockerfile).not.toMatch(/micromamba|environment\.yml/);
    expect(build.dockerfile).toContain("RUN /opt/mlenv/venv/bin/python -m pip install");
    expect(build.dockerfile).toContain('VIRTUAL_ENV="/opt/mlenv/venv"');
    expect(Object.keys(build.context).sort()).toEqual(["Dockerfile", "requirements.txt"]);
    const withConda = parseDefinition({ ...input, docker: { baseImage: "mlenv/base-cpu:bookworm" } });
    expect(() => renderDockerBuild(withConda, { condaExecutable: null })).toThrow(/numpy=1\.26/);
  });

  it("adds a prefix mlenv installed in its own layer, pip and the user's steps in theirs (no conda in the base)", () => {
    const def = parseDefinition({ ...input, docker: { ...input.docker, baseImage: "debian:bookworm-slim" } });
    const lock = {
      condaExplicit: "@EXPLICIT\nhttp://127.0.0.1:9/linux-64/numpy-1.26.0-0.conda#abc\n",
      pipRequirements: "requests @ http://127.0.0.1:9/r.whl --hash=sha256:00\n",
      imageKeyInput: { locked: 1 },
    };
    for (const conda of [undefined, null, "micromamba"]) {
      const build = renderDockerBuild(def, {
        lock,
        condaPrefixArchive: "conda-prefix.tar",
        ...(conda !== undefined ? { condaExecutable: conda } : {}),
      });
      expect(build.condaPrefix).toEqual({ path: "/opt/conda/envs/mlenv", archive: "conda-prefix.tar" });
      expectInOrder(build.dockerfile, [
        "FROM debian:bookworm-slim",
        "RUN apt-get update",
        "ADD conda-prefix.tar /\n",
        "RUN /opt/conda/envs/mlenv/bin/python -m compileall -q -j 0 /opt/conda/envs/mlenv/lib/python3*/site-packages",
        'CONDA_PREFIX="/opt/conda/envs/mlenv"',
        'CMD ["/opt/conda/envs/mlenv/bin/python"]',
        "COPY requirements.txt",
        "RUN /opt/conda/envs/mlenv/bin/python -m pip install --no-cache-dir --disable-pip-version-check --require-hashes --no-deps",
        "LABEL ",
      ]);
      expect(build.dockerfile).not.toMatch(/micromamba|conda-explicit|environment\.yml|venv/);
      // the archive is the caller's to add: core names it, never makes it
      expect(Object.keys(build.context).sort()).toEqual(["Dockerfile", "requirements.txt"]);
    }
    // a pip-only change leaves every line up to the pip layer as it was
    const other = renderDockerBuild(def, {
      lock: { ...lock, pipRequirements: "requests @ http://127.0.0.1:9/s.whl --hash=sha256:01\n" },
      condaPrefixArchive: "conda-prefix.tar",
    });
    const upToPip = (d: string) => d.slice(0, d.indexOf("RUN /opt/conda/envs/mlenv/bin/python -m pip"));
    expect(upToPip(other.dockerfile)).toBe(
      upToPip(renderDockerBuild(def, { lock, condaPrefixArchive: "conda-prefix.tar" }).dockerfile),
    );
    // without a lock the pip layer installs the definition's requirements
    const loose = renderDockerBuild(def, { condaPrefixArchive: "conda-prefix.tar", envPrefix: "/opt/env" });
    expect(loose.dockerfile).toContain("ADD conda-prefix.tar /\n");
    expect(loose.dockerfile).toContain(
      "RUN /opt/env/bin/python -m pip install --no-cache-dir --disable-pip-version-check -r",
    );
    expect(loose.condaPrefix).toEqual({ path: "/opt/env", archive: "conda-prefix.tar" });
    expect(renderDockerBuild(def).condaPrefix).toBeNull();
    expect(() => renderDockerBuild(def, { condaPrefixArchive: "../x.tar" })).toThrow(/plain file name/);
  });

  it("refuses a hostile env prefix or conda executable", () => {
    const def = parseDefinition(input);
    expect(() => renderDockerBuild(def, { envPrefix: "/opt/x; rm -rf /" })).toThrow(/plain path/);
    expect(() => renderDockerBuild(def, { condaExecutable: "conda`id`" })).toThrow(/plain path/);
  });
});
