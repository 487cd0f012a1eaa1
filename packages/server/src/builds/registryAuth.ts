import { type EnvironmentDefinition, registryHost } from "@mlenv/core";
import type { RegistryAuth } from "../docker/index";
import type { WheelCatalog } from "../wheels/catalog";
import { WheelError, WheelErrorCodes } from "../wheels/errors";

const SECRET = /^\$\{MLENV_SECRET_([A-Za-z][A-Za-z0-9_]{0,63})\}$/;

/**
 * Credentials for a definition's private base-image registry (`docker.baseImageRegistry`).
 * `username` and `password` may name a workspace secret as `${MLENV_SECRET_<NAME>}` (the value
 * is looked up in the build's workspace at build time, so the definition holds no credential);
 * a literal value is used as given, as the reference does. They reach the engine only in the
 * X-Registry-Config header of the build.
 */
export function workspaceRegistryAuth(
  catalog: Pick<WheelCatalog, "getSecret">,
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
      return secret;
    };
    return {
      username: await value(username),
      password: await value(password),
      serveraddress: registryHost(address) ?? address,
    };
  };
}
