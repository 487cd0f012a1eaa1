import { condaDefinition } from "../test/definitions";

/** Inputs of hash-vectors.json. Changing an input or the scheme means regenerating the vectors. */
export const canonicalInputs: { name: string; value: unknown }[] = [
  { name: "empty object", value: {} },
  {
    name: "key order by UTF-16 code units",
    value: { "\u20ac": "euro", "\r": "cr", "\ud83d\ude00": "emoji", b: 1, B: 2, a: [] },
  },
  { name: "numbers", value: [0, -0, 1, -1, 0.5, 1e-7, 123456789.123, 2 ** 53 - 1, -(2 ** 53 - 1), 5e-324] },
  { name: "escapes", value: { s: '\u0000\b\t\n\f\r"\\/\u001f\u007f\u2028 é 中文 😀' } },
  { name: "nested", value: { z: { y: { x: [true, false, null, "v"] } }, a: [{ b: 1, a: 2 }] } },
];

export const definitionInputs: { name: string; input?: unknown; file?: { name: string; text: string } }[] = [
  { name: "minimal", input: { name: "minimal" } },
  {
    name: "conda and pip",
    input: condaDefinition("train", [
      "python=3.10",
      "numpy=1.17.0",
      "scipy >= 1.3",
      { pip: ["Requests == 2.31.0", "flask[async]==2.0; python_version >= '3.8'"] },
    ]),
  },
  {
    name: "same, reordered and respelled",
    input: {
      name: "other-name",
      tags: { team: "x" },
      python: {
        condaDependencies: {
          dependencies: [
            { pip: ["flask[async] == 2.0 ; python_version >= '3.8'", "requests==2.31.0"] },
            "SciPy>=1.3",
            "numpy=1.17.0",
            "python=3.10",
            "numpy=1.17.0",
          ],
          channels: ["conda-forge", "defaults"],
        },
      },
    },
  },
  {
    name: "custom Dockerfile, unicode, env vars",
    input: {
      name: "docker",
      environmentVariables: { GREETING: "grüß dich 😀", OMP_NUM_THREADS: "4" },
      docker: { baseDockerfile: "FROM ubuntu:22.04\nRUN echo 'é'\n", systemPackages: ["libgl1"] },
    },
  },
  {
    name: "GPU via CUDA packages, platforms",
    input: condaDefinition("gpu", ["python=3.11", "pytorch::pytorch-cuda=12.1"], {
      platforms: ["linux-64", "linux-aarch64"],
      channels: ["pytorch", "nvidia"],
    }),
  },
  {
    name: "user-managed, spark, r",
    input: {
      name: "um",
      python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      docker: { baseImage: "python:3.12-slim", shmSize: "8g" },
      spark: {
        repositories: ["https://repo.example/maven"],
        packages: [{ group: "g", artifact: "a", version: "1.0" }],
      },
      r: { rVersion: "4.3.1", cranPackages: [{ name: "ggplot2", version: "3.4.4" }] },
    },
  },
  {
    name: "conda environment.yml file",
    file: {
      name: "environment.yml",
      text: "name: demo\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - numpy>=1.26\n  - pip:\n    - --extra-index-url http://127.0.0.1:9/simple\n    - torch==2.3.0\nvariables:\n  A: '1'\n",
    },
  },
  {
    name: "definition as YAML",
    file: {
      name: "definition.yml",
      text: "name: train\npython:\n  condaDependencies:\n    channels: [conda-forge, defaults]\n    dependencies:\n      - python=3.10\n      - numpy=1.17.0\n      - scipy>=1.3\n      - pip: [requests==2.31.0, \"flask[async]==2.0; python_version >= '3.8'\"]\n",
    },
  },
  {
    name: "requirements.txt",
    file: {
      name: "requirements.txt",
      text: "numpy==1.26.4\nrequests>=2  # http\n-e git+https://example.invalid/x.git#egg=x\n",
    },
  },
];
