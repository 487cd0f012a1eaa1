import type { Command } from "commander";
import { type CliContext, CliError } from "../context";

// The SDK loads when a command runs, not when the program is built.
const sdkNode = () => import("@mlenv/sdk/node");

/** `mlenv login`, `mlenv logout`, `mlenv whoami`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command("login")
    .description("Check a server URL and token, then save them to the config file (mode 0600).")
    .option("--url <url>", "server URL (default: MLENV_URL or the saved one)")
    .option("--token <token>", "API token (prefer --token-stdin or MLENV_TOKEN: argv is visible to others)")
    .option("--token-stdin", "read the token from standard input")
    .option("--json", "print JSON")
    .action(async (opts: { url?: string; token?: string; tokenStdin?: boolean; json?: boolean }) => {
      const { configPath, readConfig, workspaceFromConfig, writeConfig } = await sdkNode();
      const file = configPath(ctx.io.env);
      const saved = readConfig(file);
      const url = opts.url ?? ctx.io.env.MLENV_URL ?? saved.url;
      if (!url) {
        throw new CliError(
          "E_USAGE",
          "Expected --url (e.g. mlenv login --url http://127.0.0.1:8080); none given.",
        );
      }
      let token = opts.token ?? ctx.io.env.MLENV_TOKEN;
      if (opts.tokenStdin) {
        if (!ctx.io.readStdin)
          throw new CliError("E_USAGE", "Expected a token on standard input; there is none.");
        token = (await ctx.io.readStdin()).trim();
      }
      if (!token) {
        throw new CliError(
          "E_USAGE",
          "Expected a token via --token-stdin, --token or MLENV_TOKEN (the server's first start writes one to <data-dir>/admin-token); none given.",
        );
      }
      const ws = workspaceFromConfig({ url, token, env: {}, configFile: file });
      const me = await ws.environments.whoami();
      writeConfig(file, { url: ws.url, token });
      if (opts.json) ctx.json({ url: ws.url, ...me, configFile: file });
      else
        ctx.out(
          `Logged in to ${ws.url} as ${me.tokenName} (${me.role}) in workspace ${me.workspace}; saved to ${file}`,
        );
    });

  program
    .command("logout")
    .description("Remove the saved token from the config file.")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const { configPath, readConfig, writeConfig } = await sdkNode();
      const file = configPath(ctx.io.env);
      const saved = readConfig(file);
      writeConfig(file, saved.url ? { url: saved.url } : {});
      if (opts.json) return ctx.json({ configFile: file, loggedOut: true });
      ctx.out(`Removed the saved token from ${file}`);
    });

  program
    .command("whoami")
    .description("Show the workspace and role of the current token.")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const ws = (await sdkNode()).workspaceFromConfig({ env: ctx.io.env });
      const me = await ws.environments.whoami();
      if (opts.json) ctx.json({ url: ws.url, ...me });
      else ctx.out(`${me.tokenName} (${me.role}) in workspace ${me.workspace} at ${ws.url}`);
    });
}
