import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { WheelInfo, WheelRevisionInfo, Workspace } from "@mlenv/sdk";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";
import { sanitize } from "../output";
import { humanBytes, type Progress } from "../progress";
import { listCommand } from "./listCommand";

const seg = encodeURIComponent;

/** A response body read whole, reporting bytes received (of Content-Length) to a progress line. */
async function readCounted(res: Response, progress: Progress): Promise<Uint8Array> {
  const total = Number(res.headers.get("content-length") ?? "") || undefined;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.length;
    progress.update(total ? { bytes, total } : { bytes });
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** Send a non-JSON request (upload/download) with the workspace's token; server errors keep their code. */
async function send(
  ws: Workspace,
  method: string,
  path: string,
  options: { body?: Uint8Array } = {},
): Promise<Response> {
  const { body } = options;
  const headers: Record<string, string> = {};
  if (ws.token) headers.authorization = `Bearer ${ws.token}`;
  if (body) headers["content-type"] = "application/octet-stream";
  let res: Response;
  try {
    // The body is sent whole (with its Content-Length): a server that refuses the upload early
    // (a bad file name, too large) answers with its error instead of a broken stream.
    res = await fetch(`${ws.url}${path}`, {
      method,
      headers,
      ...(body ? { body: body as Uint8Array<ArrayBuffer> } : {}),
      signal: AbortSignal.timeout(10 * 60_000),
    });
  } catch (cause) {
    throw new CliError(
      "E_NETWORK",
      `Expected an mlenv server at ${ws.url}; ${method} failed: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  if (!res.ok) {
    const text = await res.text();
    let parsed: { code?: unknown; message?: unknown } | null = null;
    try {
      parsed = JSON.parse(text);
    } catch {}
    if (parsed && typeof parsed.code === "string" && typeof parsed.message === "string") {
      throw new CliError(parsed.code, parsed.message);
    }
    throw new CliError("E_HTTP", `Expected success from ${method} ${path}; received HTTP ${res.status}`);
  }
  return res;
}

function parseTtl(v: string): number {
  if (!/^[1-9]\d{0,5}$/.test(v))
    throw new InvalidArgumentError(`expected seconds such as 3600; received ${v}`);
  return Number(v);
}

const human = humanBytes;

/** `mlenv wheel upload|list|show|download|yank|unyank|url`. */
export function register(program: Command, ctx: CliContext): void {
  const wheel = program
    .command("wheel")
    .description("Private wheels of the workspace: upload, list, show, download, yank, signed URLs.");

  wheel
    .command("upload")
    .description(
      "Upload a wheel (checked by the server) and print its stable reference for a pip block: mlenv+wheel://<workspace>/<file>#sha256=<hex>",
    )
    .argument("<file>", "the .whl file")
    .option(
      "--overwrite",
      "replace different bytes already stored under this file name (the old bytes are kept)",
    )
    .option("--exist-ok", "accepted for compatibility: identical bytes already uploaded are always fine")
    .option("--json", "print JSON")
    .action(async (file: string, opts: { overwrite?: boolean; json?: boolean }) => {
      const path = ctx.path(file);
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new CliError(
          "E_USAGE",
          `Expected a wheel file such as dist/my_pkg-1.0-py3-none-any.whl; ${sanitize(path)} is not a file.`,
        );
      }
      const ws = await ctx.workspace();
      const query = opts.overwrite ? "?overwrite=true" : "";
      const body = new Uint8Array(readFileSync(path));
      const progress = ctx.progress(`uploading ${basename(path)}`);
      progress.update({ detail: human(body.length) });
      let out: { status: string; wheel: WheelInfo; previous: { sha256: string } | null };
      try {
        const res = await send(ws, "PUT", `/upload/v1/wheels/${seg(basename(path))}${query}`, { body });
        progress.update({ phase: `checking ${basename(path)}` });
        out = (await res.json()) as typeof out;
      } finally {
        progress.done();
      }
      if (opts.json) return ctx.json(out);
      const what =
        { created: "Uploaded", unchanged: "Already uploaded (same bytes)", replaced: "Replaced" }[
          out.status
        ] ?? out.status;
      ctx.out(`${what} ${out.wheel.filename} (revision ${out.wheel.revision}, sha256 ${out.wheel.sha256})`);
      if (out.previous) ctx.out(`previous sha256 ${out.previous.sha256} is kept`);
      ctx.out(`reference: ${out.wheel.reference}`);
    });

  listCommand(wheel, ctx, {
    description: "List the workspace's wheels.",
    options: (c) => c.option("--project <name>", "only this project"),
    fetch: async (opts: { project?: string }) =>
      (await ctx.workspace()).wheels.list({ project: opts.project }),
    columns: [
      { header: "filename", value: (w) => w.filename },
      { header: "version", value: (w) => w.version },
      { header: "size", value: (w) => human(w.size) },
      { header: "revision", value: (w) => w.revision },
      { header: "yanked", value: (w) => (w.yanked ? w.yankedReason || "yes" : "no") },
      { header: "uploaded", value: (w) => w.uploadedAt },
    ],
  });

  wheel
    .command("show")
    .description("Show one wheel and its upload history.")
    .argument("<filename>", "the wheel's file name")
    .option("--json", "print JSON")
    .action(async (filename: string, opts: { json?: boolean }) => {
      const w = await (await ctx.workspace()).request<WheelInfo & { revisions: WheelRevisionInfo[] }>(
        "GET",
        `/api/v1/wheels/${seg(filename)}`,
      );
      if (opts.json) return ctx.json(w);
      const lines = [
        `filename:        ${w.filename}`,
        `project:         ${w.project} (${w.name})`,
        `version:         ${w.version}`,
        `requires-python: ${w.requiresPython ?? "-"}`,
        `sha256:          ${w.sha256}`,
        `size:            ${human(w.size)}`,
        `yanked:          ${w.yanked ? `yes${w.yankedReason ? ` (${w.yankedReason})` : ""}` : "no"}`,
        `reference:       ${w.reference}`,
        `uploaded:        ${w.uploadedAt} by ${w.uploadedBy}`,
        "revisions:",
        ...w.revisions.map(
          (r) => `  ${r.revision}  ${r.sha256}  ${human(r.size)}  ${r.uploadedAt} by ${r.uploadedBy}`,
        ),
      ];
      for (const l of lines) ctx.out(l);
    });

  wheel
    .command("download")
    .description("Download a wheel into a directory (the current bytes, or an earlier revision by hash).")
    .argument("<filename>", "the wheel's file name")
    .option("-d, --dir <dir>", "target directory", ".")
    .option("--sha256 <hex>", "an earlier revision's sha256")
    .option("--overwrite", "replace an existing file")
    .option("--json", "print JSON")
    .action(
      async (
        filename: string,
        opts: { dir: string; sha256?: string; overwrite?: boolean; json?: boolean },
      ) => {
        if (filename !== basename(filename) || filename.startsWith(".")) {
          throw new CliError(
            "E_USAGE",
            `Expected a wheel file name without directories; received ${sanitize(filename)}`,
          );
        }
        const target = join(ctx.path(opts.dir), filename);
        if (existsSync(target) && !opts.overwrite) {
          throw new CliError(
            "E_EXISTS",
            `Expected ${sanitize(target)} not to exist; pass --overwrite to replace it.`,
          );
        }
        const q = opts.sha256 ? `?sha256=${seg(opts.sha256)}` : "";
        const progress = ctx.progress(`downloading ${filename}`);
        let bytes: Uint8Array;
        try {
          const res = await send(
            await ctx.workspace(),
            "GET",
            `/api/v1/wheels/${seg(filename)}/download${q}`,
          );
          bytes = await readCounted(res, progress);
        } finally {
          progress.done();
        }
        writeFileSync(target, bytes);
        if (opts.json) return ctx.json({ filename, size: bytes.length, output: target });
        ctx.out(`Downloaded ${filename} (${human(bytes.length)}) to ${target}`);
      },
    );

  for (const action of ["yank", "unyank"] as const) {
    const cmd = wheel
      .command(action)
      .description(
        action === "yank" ? "Yank a wheel (PEP 592): pip skips it unless pinned exactly." : "Undo a yank.",
      )
      .argument("<filename>", "the wheel's file name");
    if (action === "yank") cmd.option("--reason <text>", "why it is yanked (shown by pip)");
    cmd.option("--json", "print JSON");
    cmd.action(async (filename: string, opts: { reason?: string; json?: boolean }) => {
      const out = await (await ctx.workspace()).request<unknown>(
        "POST",
        `/api/v1/wheels/${seg(filename)}/${action}`,
        { body: opts.reason === undefined ? {} : { reason: opts.reason } },
      );
      if (opts.json) return ctx.json(out ?? { filename, yanked: action === "yank" });
      ctx.out(`${action === "yank" ? "Yanked" : "Un-yanked"} ${filename}`);
    });
  }

  wheel
    .command("url")
    .description("Print a short-lived signed download URL for a wheel reference (no token needed to use it).")
    .argument("<reference>", "mlenv+wheel://<workspace>/<file>[#sha256=<hex>]")
    .option("--ttl <seconds>", "lifetime in seconds (default 3600)", parseTtl)
    .option("--json", "print JSON")
    .action(async (reference: string, opts: { ttl?: number; json?: boolean }) => {
      const out = await (await ctx.workspace()).request<{
        url: string;
        requirement: string;
        expiresAt: string;
      }>("POST", "/api/v1/wheels/resolve", {
        body: { reference, ...(opts.ttl ? { ttlSeconds: opts.ttl } : {}) },
      });
      if (opts.json) return ctx.json(out);
      ctx.out(out.url);
    });
}
