import { existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DefinitionIssue, EnvironmentDefinition, LoadedDefinition } from "@mlenv/core";
import { type Command, Option } from "commander";
import { type CliContext, CliError } from "../context";

// @mlenv/core and @mlenv/sdk/node load when a command runs, not when the program is built.
const core = () => import("@mlenv/core");

/** One validation issue as a line, red for errors and yellow for warnings on a colour terminal. */
export async function printIssue(ctx: CliContext, issue: DefinitionIssue): Promise<void> {
  const { formatIssue } = await core();
  ctx.err(formatIssue(issue), issue.severity === "error" ? "red" : "yellow");
}

/** Load a definition path; on a located parse error print `file:line: ...` lines and exit 1. */
export async function loadOrReport(ctx: CliContext, path: string): Promise<LoadedDefinition> {
  const [{ isCoreError }, { loadDefinitionPath }] = await Promise.all([core(), import("@mlenv/sdk/node")]);
  try {
    return loadDefinitionPath(ctx.path(path), { displayPath: path });
  } catch (e) {
    if (isCoreError(e)) {
      if (e.issues.length > 0) for (const i of e.issues) await printIssue(ctx, i);
      else
        ctx.err(
          `${e.file ? `${e.file}${e.line ? `:${e.line}` : ""}: ` : ""}${e.message.replace(/\s*\n\s*/g, " ")}`,
          "red",
        );
      throw new CliError(e.code, "", { cause: e });
    }
    throw e;
  }
}

/** Validate a loaded definition, printing every issue; throws (exit 1) on errors. */
export async function validateOrReport(
  ctx: CliContext,
  loaded: LoadedDefinition,
): Promise<DefinitionIssue[]> {
  const { validateDefinition } = await core();
  const issues = [
    ...loaded.warnings,
    ...validateDefinition(loaded.definition, { locations: loaded.locations }),
  ];
  for (const i of issues) await printIssue(ctx, i);
  if (issues.some((i) => i.severity === "error")) throw new CliError("E_SPEC_INVALID", "");
  return issues;
}

/** The offline `env` commands: scaffold, validate, hash, render. */
export function registerOfflineCommands(env: Command, ctx: CliContext): void {
  env
    .command("scaffold")
    .description("Write a new definition folder with every default.")
    .requiredOption("-n, --name <name>", "environment name")
    .requiredOption("-d, --directory <dir>", "folder to create")
    .option("--overwrite", "write into a non-empty folder")
    .option("--json", "print JSON")
    .action(async (opts: { name: string; directory: string; overwrite?: boolean; json?: boolean }) => {
      const [{ createDefinition, saveDefinitionFolder }, { writeDefinitionFiles }] = await Promise.all([
        core(),
        import("@mlenv/sdk/node"),
      ]);
      const def = createDefinition(opts.name);
      const files = saveDefinitionFolder(def);
      const path = ctx.path(opts.directory);
      writeDefinitionFiles(path, files, {
        overwrite: opts.overwrite ?? false,
        displayPath: opts.directory,
      });
      const names = Object.keys(files).sort();
      if (opts.json) return ctx.json({ name: def.name, directory: path, files: names });
      ctx.out(`Scaffolded ${def.name} in ${opts.directory} (${names.join(", ")})`);
    });

  env
    .command("validate")
    .description("Check a definition folder or file; prints `file:line: ...` lines and exits 1 on errors.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .option("--json", "print the issues as JSON")
    .action(async (opts: { directory: string; json?: boolean }) => {
      const loaded = await loadOrReport(ctx, opts.directory);
      if (opts.json) {
        const { validateDefinition } = await core();
        const issues = [
          ...loaded.warnings,
          ...validateDefinition(loaded.definition, { locations: loaded.locations }),
        ];
        ctx.json({ valid: !issues.some((i) => i.severity === "error"), issues });
        if (issues.some((i) => i.severity === "error")) throw new CliError("E_SPEC_INVALID", "");
        return;
      }
      const issues = await validateOrReport(ctx, loaded);
      const warnings = issues.filter((i) => i.severity === "warning").length;
      ctx.out(
        `${opts.directory}: valid (${loaded.definition.name}, ${warnings} warning${warnings === 1 ? "" : "s"})`,
        "green",
      );
    });

  env
    .command("hash")
    .description("Print the definitionHash and imageKey of a definition.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .option("--json", "print JSON")
    .action(async (opts: { directory: string; json?: boolean }) => {
      const def = (await loadOrReport(ctx, opts.directory)).definition;
      const { definitionHash, imageKey } = await core();
      const out = { name: def.name, definitionHash: definitionHash(def), imageKey: imageKey(def) };
      if (opts.json) return ctx.json(out);
      ctx.out(`definitionHash  ${out.definitionHash}`);
      ctx.out(`imageKey        ${out.imageKey}`);
    });

  env
    .command("render")
    .description("Render a definition as a conda environment.yml, pip requirements, a Dockerfile or JSON.")
    .requiredOption("-d, --directory <path>", "definition folder, or a .yml/.json/.txt file")
    .addOption(
      new Option("-f, --format <format>", "output format").choices(RENDER_FORMATS).makeOptionMandatory(),
    )
    .option("-o, --output <dir>", "dockerfile: also write the whole build context into this folder")
    .option("--overwrite", "with --output: write into a non-empty folder")
    .option("--json", "print JSON: the format and the rendered text (or the files written)")
    .action(
      async (opts: {
        directory: string;
        format: RenderFormat;
        output?: string;
        overwrite?: boolean;
        json?: boolean;
      }) => {
        const loaded = await loadOrReport(ctx, opts.directory);
        if (opts.output !== undefined) {
          if (opts.format !== "dockerfile")
            throw new CliError("E_USAGE", "Expected --output only with --format dockerfile.");
          const { renderDockerBuild } = await core();
          const build = renderDockerBuild(loaded.definition);
          const path = ctx.path(opts.output);
          const written = writeContext(path, opts.output, build.context, opts.overwrite ?? false);
          if (opts.json) return ctx.json({ format: opts.format, output: path, files: written });
          ctx.out(`Wrote the build context (${written.join(", ")}) to ${opts.output}`);
          return;
        }
        const text = await render(loaded.definition, opts.format);
        // The rendered file itself, byte for byte (a Dockerfile, an environment.yml).
        if (opts.json) ctx.json({ format: opts.format, text });
        else ctx.io.stdout(text);
      },
    );
}

const RENDER_FORMATS = ["conda", "pip", "dockerfile", "json"] as const;
type RenderFormat = (typeof RENDER_FORMATS)[number];

async function render(def: EnvironmentDefinition, format: RenderFormat): Promise<string> {
  const { pipEntries, renderCondaEnvironment, renderDockerBuild, toReferenceJson } = await core();
  switch (format) {
    case "conda":
      return renderCondaEnvironment(def.python.condaDependencies);
    case "pip": {
      const lines = pipEntries(def.python.condaDependencies);
      return lines.length ? `${lines.join("\n")}\n` : "";
    }
    case "dockerfile":
      return renderDockerBuild(def).dockerfile;
    case "json":
      return `${JSON.stringify(toReferenceJson(def), null, 2)}\n`;
  }
}

/** Write a build context (file name → bytes) into a new or empty folder (or any with overwrite). */
function writeContext(
  dir: string,
  shown: string,
  context: Record<string, Uint8Array>,
  overwrite: boolean,
): string[] {
  const names = Object.keys(context).sort();
  for (const name of names) {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
      throw new CliError(
        "E_IO",
        `Expected plain build-context file names; refusing ${JSON.stringify(name).slice(0, 200)}.`,
      );
    }
  }
  if (existsSync(dir) && !overwrite && readdirSync(dir).length > 0) {
    throw new CliError(
      "E_IO",
      `Expected an empty or new directory at ${shown}; it is not empty (--overwrite replaces its files).`,
    );
  }
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const target = join(dir, name);
    if (existsSync(target) && !lstatSync(target).isFile()) {
      throw new CliError("E_IO", `Expected ${target} to be a regular file or absent.`);
    }
    writeFileSync(target, context[name]!);
  }
  return names;
}
