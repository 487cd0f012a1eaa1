import { randomBytes } from "node:crypto";
import type { Role } from "@mlenv/sdk";
import { type Command, Option } from "commander";
import type { CliContext } from "../context";
import { listCommand } from "./listCommand";

const ROLES: Role[] = ["reader", "writer", "admin"];

/** `mlenv token ...` and `mlenv workspace create`: share access (admin token needed, except generate). */
export function register(program: Command, ctx: CliContext): void {
  const token = program.command("token").description("API tokens of the current workspace.");

  token
    .command("generate")
    .description("Print a new random token value (e.g. for MLENV_BOOTSTRAP_TOKEN); contacts no server.")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const token = `mlenv_${randomBytes(32).toString("base64url")}`;
      if (opts.json) return ctx.json({ token });
      ctx.out(token);
    });

  token
    .command("create")
    .description("Create a token; its secret is printed once (reader tokens share read-only access).")
    .requiredOption("-n, --name <name>", "who or what the token is for")
    .addOption(new Option("-r, --role <role>", "role").choices(ROLES).default("reader"))
    .option("--json", "print JSON")
    .action(async (opts: { name: string; role: Role; json?: boolean }) => {
      const t = await (await ctx.workspace()).admin.createToken(opts.name, opts.role);
      if (opts.json) return ctx.json(t);
      ctx.out(`Created ${t.role} token ${t.name} (id ${t.id}); it is shown only now:`);
      ctx.out(t.token);
    });

  listCommand(token, ctx, {
    description: "List the workspace's tokens (never their secrets).",
    fetch: async () => (await ctx.workspace()).admin.listTokens(),
    columns: [
      { header: "id", value: (r) => r.id },
      { header: "name", value: (r) => r.name },
      { header: "role", value: (r) => r.role },
      { header: "created", value: (r) => r.createdAt },
    ],
  });

  token
    .command("revoke")
    .description("Revoke a token by id.")
    .argument("<id>", "token id (see mlenv token list)")
    .option("--json", "print JSON")
    .action(async (id: string, opts: { json?: boolean }) => {
      await (await ctx.workspace()).admin.revokeToken(id);
      if (opts.json) return ctx.json({ id, revoked: true });
      ctx.out(`Revoked token ${id}`);
    });

  program
    .command("workspace")
    .description("Workspaces of the server.")
    .command("create")
    .description(
      "Create a workspace; prints its admin token once. Needs a server admin: an admin token of the default workspace.",
    )
    .argument("<name>", "workspace name")
    .option("--json", "print JSON")
    .action(async (name: string, opts: { json?: boolean }) => {
      const w = await (await ctx.workspace()).admin.createWorkspace(name);
      if (opts.json) return ctx.json(w);
      ctx.out(`Created workspace ${w.workspace.name}; its admin token is shown only now:`);
      ctx.out(w.adminToken);
    });
}
