import { type EnvironmentDefinition, registryHost } from "@mlenv/core";
import type { RegistryAuth } from "../docker/index";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { WheelCatalog } from "../wheels/catalog";
import { WheelError, WheelErrorCodes } from "../wheels/errors";
import { urlAllowed } from "../wheels/secretPolicy";

const SECRET = /^\$\{MLENV_SECRET_([A-Za-z][A-Za-z0-9_]{0,63})\}$/;

/** True when `v` is a secret reference `${MLENV_SECRET_<NAME>}` (no credential in the text). */
export function isSecretReference(v: unknown): boolean {
  return typeof v === "string" && SECRET.test(v);
}

/**
 * A definition may name its base-image registry's password only as a workspace secret
 * reference: definitions are readable by every reader of the workspace (and kept forever in its
 * history), so a literal password there would be handed to all of them. E_DEFINITION_INVALID
 * otherwise, naming the field.
 */
export function refusePlainRegistryPassword(definition: EnvironmentDefinition): void {
  const { password } = definition.docker.baseImageRegistry;
  if (password === null || password === undefined || isSecretReference(password)) return;
  throw new ServerError(
    ServerErrorCode.DEFINITION_INVALID,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${MLENV_SECRET_*} reference syntax
    "Expected docker.baseImageRegistry.password to be a workspace secret reference such as ${MLENV_SECRET_REGISTRY_PASSWORD} (set the value with `mlenv index secret set REGISTRY_PASSWORD`); received a literal password, which every reader of the workspace could read",
    { details: { field: "docker.baseImageRegistry.password", length: preview(password.length) } },
  );
}

/**
 * A stored definition as readers see it: a literal registry password (from before literals were
 * refused) is shown as `***`.
 */
export function redactRegistryPassword(definition: Record<string, unknown>): Record<string, unknown> {
  const docker = definition.docker as { baseImageRegistry?: { password?: unknown } } | undefined;
  const password = docker?.baseImageRegistry?.password;
  if (password === null || password === undefined || isSecretReference(password)) return definition;
  return {
    ...definition,
    docker: { ...docker, baseImageRegistry: { ...docker!.baseImageRegistry, password: "***" } },
  };
}

/**
 * Credentials for a definition's private base-image registry (`docker.baseImageRegistry`).
 * `username` and `password` may name a workspace secret as `${MLENV_SECRET_<NAME>}` (the value
 * is looked up in the build's workspace at build time, so the definition holds no credential).
 * A literal username is used as given; a literal password is refused when the definition is
 * registered ({@link refusePlainRegistryPassword}). They reach the engine only in the
 * X-Registry-Config header of the build.
 */
export function workspaceRegistryAuth(
  catalog: Pick<WheelCatalog, "getSecret" | "getSecretHosts">,
): (
  definition: EnvironmentDefinition,
  context: { workspaceId: string | undefined },
) => Promise<RegistryAuth | null> {
  return async (definition, { workspaceId }) => {
    const { address, username, password } = definition.docker.baseImageRegistry;
    if (!address || (username === null && password === null)) return null;
    const value = async (v: string | null): Promise<string> => {
      if (v === null) return "";
      const m = SECRET.exec(v);
      if (!m) return v;
      const secret = workspaceId ? await catalog.getSecret(workspaceId, m[1]!) : null;
      if (secret === null) {
        throw new WheelError(
          WheelErrorCodes.secretNotFound,
          `Expected a workspace secret named "${m[1]}" for the base image registry ${address} (referenced as \${MLENV_SECRET_${m[1]}}); set it with \`mlenv index secret set ${m[1]}\``,
          { details: { secret: m[1] } },
        );
      }
      if (workspaceId) {
        // the registry is where the secret goes: it must be one the admin allowed for it
        const allowed = await catalog.getSecretHosts(workspaceId, m[1]!);
        const host = registryHost(address) ?? address;
        let ok = false;
        try {
          ok = urlAllowed(allowed, new URL(`https://${host}/`));
        } catch {
          ok = false;
        }
        if (!ok) {
          throw new WheelError(
            WheelErrorCodes.secretNotAllowed,
            `Expected secret ${m[1]} to be sent only to ${allowed.length ? allowed.join(", ") : "hosts an admin allows (none yet)"}; the base image registry is ${host}. An admin allows it with \`mlenv index secret set ${m[1]} --allow-host ${host}\``,
            { details: { secret: m[1], host, allowed } },
          );
        }
      }
      return secret;
    };
    return {
      username: await value(username),
      password: await value(password),
      serveraddress: registryHost(address) ?? address,
    };
  };
}
