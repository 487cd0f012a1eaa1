import {
  type CoreConfig,
  defaultCoreConfig,
  type EnvironmentDefinition,
  imageKey,
  type Lock,
  lockImageKeyInput,
} from "@mlenv/core";
import { DockerError, DockerErrorCode } from "../docker/index";
import { type PrivateInputs, scopedImageKey } from "./privateInputs";

/**
 * The server's image key of an environment, the one function the registry (a version's key), the
 * builder and build queue (a job's key and image), runs and services (their records, venvs) all
 * use: core's `imageKey` over the definition with the server's configuration (its base images)
 * and the lock's artifacts when locked; combined with the workspace and its wheels' bytes when
 * the definition has private inputs (see `scopedImageKey`).
 */
export function environmentImageKey(options: {
  definition: EnvironmentDefinition;
  lock?: Lock | null | undefined;
  /** The server's core configuration; core's defaults when absent. */
  config?: CoreConfig | undefined;
  /** The definition's private inputs in the workspace (null or absent: none). */
  privateInputs?: PrivateInputs | null | undefined;
}): string {
  const key = imageKey(options.definition, {
    config: options.config ?? defaultCoreConfig,
    ...(options.lock ? { lock: lockImageKeyInput(options.lock) } : {}),
  });
  return scopedImageKey(key, options.privateInputs ?? null);
}

/** The image reference of a key: `[<registry>/]mlenv/env_<hex>:latest`. */
export function environmentImage(
  key: string,
  registry: string | null | undefined,
): { imageKey: string; image: string; repositoryPath: string } {
  const hex = key.slice(key.lastIndexOf(":") + 1);
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new DockerError(
      DockerErrorCode.REFERENCE_INVALID,
      `expected an image key like mlenv1-sha256:<64 hex>; received ${key.slice(0, 200)}`,
    );
  }
  const repositoryPath = `mlenv/env_${hex}`;
  return {
    imageKey: key,
    image: `${registry ? `${registry}/` : ""}${repositoryPath}:latest`,
    repositoryPath,
  };
}
