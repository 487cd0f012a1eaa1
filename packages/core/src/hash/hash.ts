import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { EnvironmentDefinition } from "../spec/definition";
import { canonicalJson } from "./canonicalJson";
import { definitionHashInput, type ImageKeyOptions, imageKeyInputs } from "./normalize";

/** Label of the current hashing scheme. */
export const HASH_SCHEME = "mlenv1-sha256";

/** `mlenv1-sha256:<hex>` of the RFC 8785 canonical JSON of `value`. */
export function hashJson(value: unknown): string {
  return `${HASH_SCHEME}:${bytesToHex(sha256(utf8ToBytes(canonicalJson(value))))}`;
}

/** Hash of everything that defines the environment except name, version, description and tags. */
export function definitionHash(def: EnvironmentDefinition): string {
  return hashJson(definitionHashInput(def));
}

/** Hash of only what changes the built image (see imageKeyInputs). */
export function imageKey(def: EnvironmentDefinition, options: ImageKeyOptions = {}): string {
  return hashJson(imageKeyInputs(def, options));
}
