import type { EnvironmentSummary, EnvironmentVersion, RegisterResult, VersionSelector } from "@mlenv/sdk";
import { type Command, InvalidArgumentError, Option } from "commander";
import { type CliContext, CliError } from "../context";
import { registerDiffCommand } from "./envDiff";
import { loadOrReport, registerOfflineCommands, validateOrReport } from "./envOffline";
import { listCommand } from "./listCommand";
import { lockForRegister } from "./lock";
import { parseVersion } from "./versionNumber";

function collectTag(v: string, prev: Record<string, string> | undefined): Record<string, string> {
  const i = v.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected KEY=VALUE such as team=vision; received ${v}`);
  return { ...(prev ?? {}), [v.slice(0, i)]: v.slice(i + 1) };
}

/** The version selector of `-v`/`-l`, refusing both at once. */
function selector(opts: { version?: number[] | number; label?: string }): VersionSelector {
  const versions =
    opts.version === undefined ? [] : Array.isArray(opts.version) ? opts.version : [opts.version];
  if (versions.length > 1) throw new CliError("E_USAGE", "Expected at most one -v VERSION here.");
  if (versions.length === 1 && opts.label !== undefined) {
    throw new CliError("E_USAGE", "Expected -v VERSION or -l LABEL, not both.");
  }
  const sel: VersionSelector = {};
  if (versions[0] !== undefined) sel.version = versions[0];
  if (opts.label !== undefined) sel.label = opts.label;
  return sel;
}

function describeVersion(v: EnvironmentVersion | EnvironmentSummary): string[] {
  const lines = [
    `name:            ${v.name}`,
    `version:         ${v.version}`,
    `definitionHash:  ${v.definitionHash}`,
    `labels:          ${v.labels.length ? v.labels.join(", ") : "-"}`,
    `description:     ${v.description ?? "-"}`,
    `tags:            ${
      Object.entries(v.tags)
        .map(([k, val]) => `${k}=${val}`)
        .join(", ") || "-"
    }`,
    `locked:          ${v.locked ? "yes" : "no (imageKey over the loose definition)"}`,
    `imageKey:        ${v.imageKey ?? "-"}`,
    `curated:         ${v.curated ? "yes" : "no"}`,
    `archived:        ${v.archived ? "yes" : "no"}`,
    `created:         ${v.createdAt} by ${v.createdBy}`,
  ];
  return lines;
}

/** `mlenv env ...`: offline definition commands and registry commands. */
export function register(program: Command, ctx: CliContext): void {
  const env = program.command("env").description("Environment definitions and the environment registry.");
  registerOfflineCommands(env, ctx);
  registerDiffCommand(env, ctx);
  // The SDK and core load when a command runs, not when the program is built.

  env
    .command("register")
    .description("Register a definition folder or file: a changed definition becomes the next version.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .option("-n, --name <name>", "name to register under (default: the definition's)")
    .option("--description <text>", "description of this version")
    .option("-t, --tag <key=value>", "tag (repeatable)", collectTag)
    .option("--lock <file>", "the lock to store (default: mlenv.lock beside the definition, else lock now)")
    .option("--no-lock", "register unlocked without trying to lock")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        directory: string;
        name?: string;
        description?: string;
        tag?: Record<string, string>;
        lock?: string | false;
        json?: boolean;
      }) => {
        // Validate locally first: errors come out as `file:line: ...` lines and nothing is sent.
        const loaded = await loadOrReport(ctx, opts.directory);
        await validateOrReport(ctx, loaded);
        const { toReferenceJson } = await import("@mlenv/core");
        const def = { ...loaded.definition, version: null };
        if (opts.name) def.name = opts.name;
        if (opts.description !== undefined) def.description = opts.description;
        if (opts.tag) def.tags = { ...def.tags, ...opts.tag };
        const locked = await lockForRegister(ctx, opts.directory, loaded.definition, opts.lock);
        const res: RegisterResult = await (await ctx.workspace()).environments.register({
          definition: toReferenceJson(def),
          ...(locked.lock === undefined ? {} : { lock: locked.lock }),
        });
        // Warn only once the version exists (a refused register prints just its error).
        if (locked.warning) ctx.err(locked.warning, "yellow");
        if (opts.json) return ctx.json(res);
        const e = res.environment;
        const how = e.locked ? `locked${locked.source ? ` (${locked.source})` : ""}` : "unlocked";
        ctx.out(
          res.created
            ? `Registered ${e.name} version ${e.version} (${e.definitionHash}), ${how}`
            : `Unchanged: ${e.name} version ${e.version} already has this definition (${e.definitionHash}), ${how}`,
        );
      },
    );

  listCommand(env, ctx, {
    description: "List the latest version of each environment.",
    options: (c) =>
      c
        .option("--prefix <prefix>", "only names starting with this")
        .option("--tag <key[=value]>", "only environments with this tag")
        .addOption(
          new Option("--archived <mode>", "include archived environments").choices(["true", "only"]),
        ),
    fetch: async (opts: { prefix?: string; tag?: string; archived?: "true" | "only" }) =>
      (await ctx.workspace()).environments.list({
        prefix: opts.prefix,
        tag: opts.tag,
        archived: opts.archived === undefined ? undefined : opts.archived === "only" ? "only" : true,
      }),
    empty: "No environments.",
    columns: [
      { header: "name", value: (r) => r.name },
      { header: "version", value: (r) => r.version },
      { header: "versions", value: (r) => r.versionCount },
      { header: "labels", value: (r) => r.labels.join(",") },
      { header: "curated", value: (r) => (r.curated ? "yes" : "") },
      { header: "archived", value: (r) => (r.archived ? "yes" : "") },
      { header: "created", value: (r) => r.createdAt },
    ],
  });

  env
    .command("show")
    .description("Show one version (latest, -v VERSION or -l LABEL).")
    .requiredOption("-n, --name <name>", "environment name")
    .option("-v, --version <n>", "version number", parseVersion)
    .option("-l, --label <label>", "label, e.g. production")
    .option("--json", "print JSON (includes the definition)")
    .action(async (opts: { name: string; version?: number; label?: string; json?: boolean }) => {
      const v = await (await ctx.workspace()).environments.get(opts.name, selector(opts));
      if (opts.json) return ctx.json(v);
      for (const line of describeVersion(v)) ctx.out(line);
      const def = v.definition as { python?: { condaDependencies?: unknown } } | undefined;
      const conda = def?.python?.condaDependencies as
        | { channels?: string[]; dependencies?: Array<string | { pip?: string[] }> }
        | undefined;
      if (conda) {
        ctx.out(`channels:        ${(conda.channels ?? []).join(", ") || "-"}`);
        ctx.out("dependencies:");
        for (const d of conda.dependencies ?? []) {
          if (typeof d === "string") ctx.out(`  - ${d}`);
          else {
            ctx.out("  - pip:");
            for (const p of d.pip ?? []) ctx.out(`    - ${p}`);
          }
        }
      }
    });

  listCommand(env, ctx, {
    name: "versions",
    description: "List every version of one environment, oldest first.",
    options: (c) => c.requiredOption("-n, --name <name>", "environment name"),
    fetch: async (opts: { name: string }) => (await ctx.workspace()).environments.versions(opts.name),
    columns: [
      { header: "version", value: (r) => r.version },
      { header: "definitionHash", value: (r) => r.definitionHash },
      { header: "labels", value: (r) => r.labels.join(",") },
      { header: "created", value: (r) => r.createdAt },
      { header: "by", value: (r) => r.createdBy },
    ],
  });

  env
    .command("download")
    .description("Download one version as a definition folder.")
    .requiredOption("-n, --name <name>", "environment name")
    .option("-v, --version <n>", "version number", parseVersion)
    .option("-l, --label <label>", "label")
    .requiredOption("-d, --directory <dir>", "folder to write")
    .option("--overwrite", "replace the files of a non-empty folder")
    .option("--json", "print JSON")
    .action(
      async (opts: {
        name: string;
        version?: number;
        label?: string;
        directory: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const [{ definitionHash, loadDefinitionFolder, parseDefinition, saveDefinitionFolder }, sdkNode] =
          await Promise.all([import("@mlenv/core"), import("@mlenv/sdk/node")]);
        const v = await (await ctx.workspace()).environments.get(opts.name, selector(opts));
        if (!v.definition)
          throw new CliError("E_BAD_RESPONSE", `The server returned no definition for ${opts.name}.`);
        const files = saveDefinitionFolder(parseDefinition(v.definition));
        // Check what the folder will hold (loaded back in memory) before writing anything.
        const local = definitionHash(loadDefinitionFolder(files).definition);
        if (local !== v.definitionHash) {
          throw new CliError(
            "E_HASH_MISMATCH",
            `Expected ${v.name} version ${v.version} to hash to the registered ${v.definitionHash}; its folder hashes to ${local}. Nothing was written.`,
          );
        }
        const path = ctx.path(opts.directory);
        sdkNode.writeDefinitionFiles(path, files, {
          overwrite: opts.overwrite ?? false,
          displayPath: opts.directory,
        });
        if (opts.json)
          return ctx.json({
            name: v.name,
            version: v.version,
            definitionHash: v.definitionHash,
            directory: path,
            files: Object.keys(files).sort(),
          });
        ctx.out(`Downloaded ${v.name} version ${v.version} to ${opts.directory} (${v.definitionHash})`);
      },
    );

  env
    .command("label")
    .description("Point a label (e.g. production) at a version, or remove it with --delete.")
    .requiredOption("-n, --name <name>", "environment name")
    .requiredOption("-l, --label <label>", "label")
    .option("-v, --version <n>", "version to point at", parseVersion)
    .option("--delete", "remove the label")
    .option("--json", "print JSON")
    .action(
      async (opts: { name: string; label: string; version?: number; delete?: boolean; json?: boolean }) => {
        const registry = (await ctx.workspace()).environments;
        if (opts.delete) {
          if (opts.version !== undefined)
            throw new CliError("E_USAGE", "Expected --delete or -v VERSION, not both.");
          await registry.deleteLabel(opts.name, opts.label);
          if (opts.json) return ctx.json({ name: opts.name, label: opts.label, deleted: true });
          return ctx.out(`Removed label ${opts.label} from ${opts.name}`);
        }
        if (opts.version === undefined) throw new CliError("E_USAGE", "Expected -v VERSION (or --delete).");
        const l = await registry.setLabel(opts.name, opts.label, opts.version);
        if (opts.json) return ctx.json(l);
        ctx.out(`Label ${l.label} of ${opts.name} now points at version ${l.version}`);
      },
    );

  for (const [verb, done] of [
    ["archive", "Archived"],
    ["restore", "Restored"],
  ] as const) {
    env
      .command(verb)
      .description(
        verb === "archive"
          ? "Hide an environment from list (its versions stay gettable)."
          : "Show an archived environment in list again.",
      )
      .requiredOption("-n, --name <name>", "environment name")
      .option("--json", "print JSON")
      .action(async (opts: { name: string; json?: boolean }) => {
        const s = await (await ctx.workspace()).environments[verb](opts.name);
        if (opts.json) return ctx.json(s);
        ctx.out(`${done} ${s.name}`);
      });
  }

  env
    .command("clone")
    .description("Copy a registered environment (e.g. a curated mlenv-* one) to a new name.")
    .requiredOption("-n, --name <name>", "environment to copy")
    .requiredOption("--new-name <name>", "name of the copy")
    .option("-v, --version <n>", "version to copy (default latest)", parseVersion)
    .option("-l, --label <label>", "label to copy")
    .option("--json", "print JSON")
    .action(
      async (opts: { name: string; newName: string; version?: number; label?: string; json?: boolean }) => {
        const res = await (await ctx.workspace()).environments.clone(opts.name, {
          newName: opts.newName,
          ...selector(opts),
        });
        if (opts.json) return ctx.json(res);
        const e = res.environment;
        ctx.out(`Cloned ${opts.name} to ${e.name} version ${e.version} (${e.definitionHash})`);
      },
    );
}
