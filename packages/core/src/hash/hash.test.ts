import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { condaDefinition } from "../../test/definitions";
import { defaultCoreConfig, type ImageLayout } from "../config";
import { loadDefinitionFile } from "../formats/folder";
import { type EnvironmentDefinitionInput, parseDefinition } from "../spec/definition";
import { definitionHash, imageKey } from "./hash";

const base = condaDefinition("base", [
  "python=3.10",
  "numpy=1.17.0",
  "scipy>=1.3",
  { pip: ["requests==2.31.0", "Flask==2.0"] },
]);

function with_(mutate: (d: EnvironmentDefinitionInput & Record<string, unknown>) => void) {
  const copy = JSON.parse(JSON.stringify(base));
  mutate(copy);
  return parseDefinition(copy);
}
// biome-ignore lint/suspicious/noExplicitAny: test helper over free-form input
const conda = (d: any) => d.python.condaDependencies;

const h = (d: ReturnType<typeof parseDefinition>) => [definitionHash(d), imageKey(d)];

describe("hash labels", () => {
  it("labels both hashes with the scheme", () => {
    const d = parseDefinition(base);
    expect(definitionHash(d)).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
    expect(imageKey(d)).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
    expect(definitionHash(d)).not.toBe(imageKey(d));
  });
});

describe("hashes are EQUAL for", () => {
  const ref = h(parseDefinition(base));
  const equal: [string, ReturnType<typeof parseDefinition>][] = [
    ["conda dependency order", with_((d) => conda(d).dependencies.reverse())],
    [
      "pip dependency order",
      with_((d) => {
        conda(d).dependencies[3].pip.reverse();
      }),
    ],
    ["exact duplicate conda entries", with_((d) => conda(d).dependencies.push("numpy=1.17.0"))],
    ["exact duplicate pip entries", with_((d) => conda(d).dependencies[3].pip.push("Flask==2.0"))],
    ["whitespace and case in conda names", with_((d) => (conda(d).dependencies[1] = "  NumPy=1.17.0 "))],
    ["PEP 503 pip names", with_((d) => (conda(d).dependencies[3].pip[1] = "flask==2.0"))],
    ["PEP 503 separators", with_((d) => (conda(d).dependencies[3].pip[0] = "Requests == 2.31.0"))],
    ["spaces around conda operators", with_((d) => (conda(d).dependencies[2] = "scipy >= 1.3"))],
    ["conda's bracket spelling", with_((d) => (conda(d).dependencies[2] = "scipy[version='>=1.3']"))],
    ["conda's space spelling of a fuzzy version", with_((d) => (conda(d).dependencies[0] = "python 3.10.*"))],
    [
      "name, version, description and tags",
      with_((d) => Object.assign(d, { name: "other", version: "3", description: "x", tags: { a: "b" } })),
    ],
    [
      "registry credentials",
      with_((d) => (d.docker = { baseImageRegistry: { username: "u", password: "p" } })),
    ],
  ];
  it.each(equal)("%s", (_label, d) => {
    expect(h(d)).toEqual(ref);
  });

  it("numpy==1.17.0 vs numpy == 1.17.0 in pip", () => {
    const a = with_((d) => conda(d).dependencies[3].pip.push("numpy==1.17.0"));
    const b = with_((d) => conda(d).dependencies[3].pip.push("numpy == 1.17.0"));
    expect(h(a)).toEqual(h(b));
  });

  it("key order in JSON and a YAML vs JSON spelling", () => {
    const json = loadDefinitionFile(
      "a.json",
      '{"python":{"condaDependencies":{"dependencies":["python=3.10",{"pip":["numpy"]}],"channels":["c"]}},"name":"n"}',
    ).definition;
    const yml = loadDefinitionFile(
      "a.yml",
      "name: n\npython:\n  condaDependencies:\n    channels: [c]\n    dependencies:\n      - python=3.10\n      - pip: [numpy]\n",
    ).definition;
    expect(h(json)).toEqual(h(yml));
  });

  it("imageKey ignores runtime environment variables, definitionHash does not", () => {
    const d = with_((x) => (x.environmentVariables = { A: "1" }));
    expect(imageKey(d)).toBe(ref[1]);
    expect(definitionHash(d)).not.toBe(ref[0]);
  });
});

describe("hashes DIFFER for", () => {
  const ref = parseDefinition(base);
  const differ: [string, ReturnType<typeof parseDefinition>][] = [
    ["a conda version constraint", with_((d) => (conda(d).dependencies[1] = "numpy=1.17.1"))],
    ["a pip version constraint", with_((d) => (conda(d).dependencies[3].pip[0] = "requests==2.31.1"))],
    ["channel order", with_((d) => conda(d).channels.reverse())],
    ["base image tag", with_((d) => (d.docker = { baseImage: "ubuntu:24.04" }))],
    [
      "pip index options",
      with_((d) => conda(d).dependencies[3].pip.push("--index-url http://127.0.0.1:9/simple")),
    ],
    ["platform", with_((d) => (d.platforms = ["linux-aarch64"]))],
    [
      "docker platform architecture",
      with_((d) => (d.docker = { platform: { os: "Linux", architecture: "arm64" } })),
    ],
    ["spark packages", with_((d) => (d.spark = { packages: [{ group: "g", artifact: "a", version: "1" }] }))],
  ];
  it.each(differ)("%s", (_label, d) => {
    expect(definitionHash(d)).not.toBe(definitionHash(ref));
    expect(imageKey(d)).not.toBe(imageKey(ref));
  });

  it("a Dockerfile byte change", () => {
    const a = with_((d) => (d.docker = { baseDockerfile: "FROM ubuntu:22.04\n" }));
    const b = with_((d) => (d.docker = { baseDockerfile: "FROM ubuntu:22.04 \n" }));
    expect(definitionHash(a)).not.toBe(definitionHash(b));
    expect(imageKey(a)).not.toBe(imageKey(b));
  });

  it("a lock passed to imageKey", () => {
    expect(imageKey(ref, { lock: { numpy: "1.17.0" } })).not.toBe(imageKey(ref));
    expect(imageKey(ref, { lock: { numpy: "1.17.0" } })).not.toBe(
      imageKey(ref, { lock: { numpy: "1.17.1" } }),
    );
  });

  it("the image layout: each layout renders another image; the default keeps the old key", () => {
    const withLayout = (imageLayout: ImageLayout) =>
      imageKey(ref, { config: { ...defaultCoreConfig, imageLayout } });
    expect(withLayout("conda-in-base")).toBe(imageKey(ref));
    const keys = new Set([imageKey(ref), withLayout("mlenv-prefix"), withLayout("venv")]);
    expect(keys.size).toBe(3);
    expect(definitionHash(ref)).toBe(definitionHash(parseDefinition(base)));
  });

  it("docker.cudaVersion while unlocked: the build's conda solve picks CUDA builds for it", () => {
    const cuda = (v: string) => with_((d) => (d.docker = { ...d.docker, gpuSupport: true, cudaVersion: v }));
    expect(imageKey(cuda("12.4"))).not.toBe(imageKey(cuda("11.8")));
    expect(imageKey(cuda("12.4"))).toBe(imageKey(cuda(" 12.4 ")));
    // locked, the lock's builds are the image's: the CUDA version adds nothing more
    const lock = { pytorch: "2.3.0=cuda120_1" };
    expect(imageKey(cuda("12.4"), { lock })).toBe(imageKey(cuda("12.5"), { lock }));
  });

  it("with a lock: the lock replaces loose specs, but conda variables (baked as ENV) still count", () => {
    const lock = { numpy: "1.17.0" };
    const looser = with_((d) => (conda(d).dependencies[1] = "numpy>=1.17"));
    expect(imageKey(looser, { lock })).toBe(imageKey(ref, { lock }));
    const vars = with_((d) => (conda(d).variables = { OMP_NUM_THREADS: "2" }));
    expect(imageKey(vars, { lock })).not.toBe(imageKey(ref, { lock }));
  });
});

describe("hash invariance (property)", () => {
  const name = fc.stringMatching(/^[a-z](?:[a-z0-9_-]{0,9}[a-z0-9])?$/);
  const condaSpec = fc
    .tuple(name, fc.constantFrom("", "=1.0", ">=2.1", " >= 3", "==4.0.1"))
    .map(([n, v]) => n + v);
  const pipSpec = fc.tuple(name, fc.constantFrom("", "==1.0", " >= 2", "[x]==3")).map(([n, v]) => n + v);
  it("is unchanged by reordering, duplicating and re-casing dependencies", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(condaSpec, { maxLength: 8 }),
        fc.uniqueArray(pipSpec, { maxLength: 8 }),
        fc.integer(),
        (condaSpecs, pipSpecs, seed) => {
          const make = (c: string[], p: string[]) =>
            parseDefinition(
              condaDefinition("p", ["python=3.11", ...c, { pip: p }], { channels: ["a", "b"] }),
            );
          const shuffle = <T>(xs: T[]) =>
            xs
              .map((x, i) => ({ x, k: Math.imul(i + 1, seed | 1) >>> 0 }))
              .sort((u, v) => u.k - v.k)
              .map((u) => u.x);
          const a = make(condaSpecs, pipSpecs);
          const b = make(
            [...shuffle(condaSpecs), ...condaSpecs.slice(0, 1)].map((s) => ` ${s.toUpperCase()} `),
            [...shuffle(pipSpecs), ...pipSpecs.slice(0, 1)].map((s) => s.toUpperCase()),
          );
          expect(definitionHash(b)).toBe(definitionHash(a));
          expect(imageKey(b)).toBe(imageKey(a));
        },
      ),
      { numRuns: 200 },
    );
  });
});
