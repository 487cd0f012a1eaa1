import type { Command } from "commander";
import { type CliContext, CliError } from "../context";
import { listCommand } from "./listCommand";

/** `mlenv index url` (the workspace's pip index) and `mlenv index secret` (upstream index credentials). */
export function register(program: Command, ctx: CliContext): void {
  const index = program
    .command("index")
    .description("The workspace's private package index and upstream index credentials.");

  index
    .command("url")
    .description(
      "Print the pip --index-url of the current workspace, with the token as basic-auth password (for scripts).",
    )
    .option("--no-credentials", "leave the token out")
    .option("--json", "print JSON")
    .action(async (opts: { credentials: boolean; json?: boolean }) => {
      const ws = await ctx.workspace();
      const me = await ws.environments.whoami();
      const url = new URL(`${ws.url}/pypi/${encodeURIComponent(me.workspace)}/simple/`);
      if (opts.credentials) {
        if (!ws.token)
          throw new CliError(
            "E_CONFIG",
            "Expected a token (mlenv login or MLENV_TOKEN) to put into the index URL; none is configured.",
          );
        url.username = "__token__";
        url.password = ws.token;
      }
      if (opts.json) return ctx.json({ workspace: me.workspace, indexUrl: url.toString() });
      ctx.out(url.toString());
    });

  const secret = index
    .command("secret")
    .description(
      "Workspace secrets (admin) holding upstream index credentials; definitions name them, never contain them.",
    );
  secret
    .command("set")
    .description("Set a secret from standard input (never from argv, which other users can see).")
    .argument("<name>", "e.g. CORP_PYPI_PASSWORD")
    .option(
      "--allow-host <host>",
      "a host (pypi.corp.example) or URL prefix the secret may be sent to; repeat for several",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean; allowHost?: string[] }) => {
      if (!ctx.io.readStdin)
        throw new CliError("E_USAGE", "Expected the secret value on standard input; there is none.");
      const value = (await ctx.io.readStdin()).replace(/\r?\n$/, "");
      if (value === "") throw new CliError("E_USAGE", "Expected a non-empty secret value on standard input.");
      await (await ctx.workspace()).request("PUT", `/api/v1/secrets/${encodeURIComponent(name)}`, {
        body: { value, allowedHosts: opts.allowHost ?? [] },
      });
      if (opts.json) return ctx.json({ name, set: true });
      ctx.out(`Set secret ${name}`);
    });
  listCommand(secret, ctx, {
    description: "List secret names (values are never shown).",
    fetch: async () => (await ctx.workspace()).wheels.listSecrets(),
    columns: [
      { header: "name", value: (s) => s.name },
      { header: "updated", value: (s) => s.updatedAt },
    ],
  });
  secret
    .command("delete")
    .description("Delete a secret.")
    .argument("<name>")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      await (await ctx.workspace()).request("DELETE", `/api/v1/secrets/${encodeURIComponent(name)}`);
      if (opts.json) return ctx.json({ name, deleted: true });
      ctx.out(`Deleted secret ${name}`);
    });
}
