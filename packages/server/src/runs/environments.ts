import { type EnvironmentDefinition, type Lock, parseDefinition, validateLock } from "@mlenv/core";
import type { Registry } from "../environments/registry";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { RunEnvironment } from "./runStore";

/** The name of the environment registered for runs submitted without one (as in the reference). */
export const DEFAULT_RUN_ENVIRONMENT = "default-run-environment";

/** How a run or deployment names its environment. */
export type EnvironmentChoice =
  | { name: string; version?: number | undefined; label?: string | undefined }
  | { definition: Record<string, unknown> }
  | null;

/** What a run and a deployment both submit: who asks, the code snapshot, its environment and (optionally) a lock. */
export interface CodeSubmission {
  workspaceId: string;
  createdBy: string;
  snapshot: string;
  environment: EnvironmentChoice;
  lock?: unknown;
}

/**
 * Resolve an environment choice to the exact registered version: a name (+version/label) is looked
 * up; an inline definition is registered first (same definition: same version); none registers
 * the default environment. A lock, when given, must be a valid lock of that definition.
 * `request` is the run or deployment asking.
 */
export async function resolveRunEnvironment(
  registry: Registry,
  request: Omit<CodeSubmission, "snapshot">,
): Promise<{ environment: RunEnvironment; definition: EnvironmentDefinition; lock: Lock | null }> {
  const { workspaceId, environment: choice } = request;
  let name: string;
  let selector: { version?: number | undefined; label?: string | undefined };
  if (choice === null || "definition" in choice) {
    // the default run environment names the server's base image, as the curated ones do
    const cpu = registry.config?.baseImages.cpu;
    const json =
      choice === null
        ? { name: DEFAULT_RUN_ENVIRONMENT, ...(cpu ? { docker: { baseImage: cpu } } : {}) }
        : choice.definition;
    const out = await registry.register(workspaceId, json, request.createdBy);
    name = out.environment.name;
    selector = { version: out.environment.version };
  } else {
    name = choice.name;
    selector = { version: choice.version, label: choice.label };
  }
  const view = await registry.get(workspaceId, name, selector);
  // core's defaults, as the registry parses it (the base image resolves to the server's at build)
  const definition = parseDefinition(view.definition);
  let lock: Lock | null = null;
  if ((request.lock === undefined || request.lock === null) && view.locked) {
    // No lock given: a locked version runs from the exact artifacts stored with it.
    lock = await registry.getLock(workspaceId, view.name, view.version);
  } else if (request.lock !== undefined && request.lock !== null) {
    try {
      lock = validateLock(request.lock);
    } catch (e) {
      throw new ServerError(ServerErrorCode.BAD_REQUEST, `Expected a valid lock: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (lock.definitionHash !== view.definitionHash) {
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `Expected a lock of environment ${name} version ${view.version} (definition ${view.definitionHash}); the lock was made for ${preview(lock.definitionHash)}: run \`mlenv env lock\` again`,
      );
    }
  }
  // The same key the registry and the builder compute: over the lock's artifacts when locked;
  // with the workspace and its wheels' bytes when the definition uses any (never shared).
  const key = await registry.workspaceImageKey(definition, lock, workspaceId);
  return {
    environment: {
      name: view.name,
      version: view.version,
      definitionHash: view.definitionHash,
      imageKey: key,
      definition: view.definition ?? {},
      lock: lock as unknown as Record<string, unknown> | null,
    },
    definition,
    lock,
  };
}

/** The definition and lock stored on a run or service record. */
export function recordedEnvironment(env: RunEnvironment): {
  definition: EnvironmentDefinition;
  lock: Lock | null;
} {
  return {
    definition: parseDefinition(env.definition),
    lock: env.lock ? validateLock(env.lock) : null,
  };
}
