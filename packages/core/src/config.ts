/** Configuration of defaults that are policy, not code. Pass your own to override. */
export interface CoreConfig {
  /** Python version written into a new conda document (`python=<version>`). */
  pythonVersion: string;
  /** pip version pinned next to python in a new conda document. */
  pipVersion: string;
  /** Channels of a new conda document, in priority order. */
  channels: readonly string[];
  /** Default base images; the GPU one is used when a definition asks for GPU or names CUDA packages. */
  baseImages: { cpu: string; gpu: string };
  /** Platforms a definition targets when it names none. */
  platforms: readonly string[];
  /** The conda-compatible executable the default base images provide (`micromamba`, `mamba`, `conda`). */
  condaExecutable: string;
  /**
   * How an image gets its Python packages: `conda-in-base` (the base image's conda executable
   * creates the environment; the default), `mlenv-prefix` (mlenv installs the locked conda prefix
   * and copies it into a plain base image) or `venv` (a venv and pip on a conda-less base). The
   * same definition renders a different image in each, so a layout other than the default is part
   * of the image key.
   */
  imageLayout?: ImageLayout;
}

/** See {@link CoreConfig.imageLayout}. */
export type ImageLayout = "conda-in-base" | "mlenv-prefix" | "venv";

export const defaultCoreConfig: CoreConfig = Object.freeze({
  pythonVersion: "3.11",
  pipVersion: "24.2",
  channels: Object.freeze(["anaconda", "conda-forge"]),
  baseImages: Object.freeze({
    cpu: "mambaorg/micromamba:1.5.10-bookworm-slim",
    gpu: "mambaorg/micromamba:1.5.10-jammy-cuda-12.1.1",
  }),
  platforms: Object.freeze(["linux-64"]),
  condaExecutable: "micromamba",
});
