import { CliError } from "./context";

/** What `server start` and `server worker` use of @mlenv/server. */
export type ServerPackage = typeof import("@mlenv/server");

/** The message when @mlenv/server is not installed beside the CLI. */
export const SERVER_MISSING =
  "Expected @mlenv/server to be installed to run a server; install @mlenv/server beside @mlenv/cli " +
  "(npm install @mlenv/server), or use the server image (docs/server.md). The other commands need only the CLI.";

/** Whether `e` says that the specifier `name` itself could not be found (not one of its imports). */
export function isMissingPackage(e: unknown, name: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  const message = e instanceof Error ? e.message : "";
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}

/**
 * Load @mlenv/server on demand: it is an optional peer dependency of the CLI (its storage drivers
 * compile a native addon, which no other command needs). Throws E_SERVER_MISSING when absent.
 */
export async function loadServer(
  load: () => Promise<ServerPackage> = () => import("@mlenv/server"),
): Promise<ServerPackage> {
  try {
    return await load();
  } catch (e) {
    if (isMissingPackage(e, "@mlenv/server"))
      throw new CliError("E_SERVER_MISSING", SERVER_MISSING, { cause: e });
    throw e;
  }
}
