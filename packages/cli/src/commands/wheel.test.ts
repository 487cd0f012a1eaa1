import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWheel } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { expectOneLineError, useCliServer } from "../e2e/cliServer";

const cli = useCliServer("mlenv-cli-wheel-");
const { server, dir: t } = cli;

const run = (argv: string[], readStdin?: () => Promise<string>) =>
  cli.run(argv, readStdin ? { readStdin } : {});

describe("mlenv wheel / mlenv index", () => {
  const w = buildWheel({ name: "cliwheel", version: "1.0", requiresPython: ">=3.9" });
  const changed = buildWheel({
    name: "cliwheel",
    version: "1.0",
    requiresPython: ">=3.9",
    files: { "cliwheel/__init__.py": "X = 2\n" },
  });

  it("upload prints the reference; again is fine; different bytes need --overwrite", async () => {
    writeFileSync(join(t.path, w.filename), w.bytes);
    const r = await run(["wheel", "upload", w.filename]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`reference: mlenv+wheel://default/${w.filename}#sha256=${w.sha256}`);
    const again = await run(["wheel", "upload", w.filename, "--exist-ok"]);
    expect(again.stdout).toMatch(/^Already uploaded \(same bytes\)/);

    mkdirSync(join(t.path, "v2"));
    writeFileSync(join(t.path, "v2", changed.filename), changed.bytes);
    expectOneLineError(await run(["wheel", "upload", `v2/${changed.filename}`]), "E_WHEEL_EXISTS");
    const replaced = await run(["wheel", "upload", `v2/${changed.filename}`, "--overwrite", "--json"]);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ status: "replaced", previous: { sha256: w.sha256 } });
  });

  it("refuses a hostile file with one clear line", async () => {
    writeFileSync(join(t.path, "evil;id-1.0-py3-none-any.whl"), w.bytes);
    expectOneLineError(
      await run(["wheel", "upload", "evil;id-1.0-py3-none-any.whl"]),
      "E_WHEEL_FILENAME_INVALID",
    );
    writeFileSync(join(t.path, "notzip-1.0-py3-none-any.whl"), "hello");
    expectOneLineError(await run(["wheel", "upload", "notzip-1.0-py3-none-any.whl"]), "E_WHEEL_NOT_ZIP");
  });

  it("list, show, download (current and earlier revision), yank", async () => {
    const list = await run(["wheel", "list"]);
    expect(list.stdout.split("\n")[0]).toMatch(/^FILENAME\s+VERSION\s+SIZE\s+REVISION\s+YANKED\s+UPLOADED$/);
    expect(list.stdout).toContain(w.filename);
    const show = await run(["wheel", "show", w.filename]);
    expect(show.stdout).toMatch(/^requires-python: >=3\.9$/m);
    expect(show.stdout).toContain(`  1  ${w.sha256}`);
    expect(show.stdout).toContain(`  2  ${changed.sha256}`);

    mkdirSync(join(t.path, "dl"));
    expect((await run(["wheel", "download", w.filename, "-d", "dl"])).code).toBe(0);
    expect(new Uint8Array(readFileSync(join(t.path, "dl", w.filename)))).toEqual(changed.bytes);
    expectOneLineError(await run(["wheel", "download", w.filename, "-d", "dl"]), "E_EXISTS");
    await run(["wheel", "download", w.filename, "-d", "dl", "--overwrite", "--sha256", w.sha256]);
    expect(new Uint8Array(readFileSync(join(t.path, "dl", w.filename)))).toEqual(w.bytes);

    expect((await run(["wheel", "yank", w.filename, "--reason", "broken"])).stdout).toBe(
      `Yanked ${w.filename}\n`,
    );
    const listed = JSON.parse((await run(["wheel", "list", "--json"])).stdout);
    expect(listed[0]).toMatchObject({ yanked: true, yankedReason: "broken" });
    await run(["wheel", "unyank", w.filename]);
  });

  it("url prints a signed URL that downloads without a token", async () => {
    const r = await run([
      "wheel",
      "url",
      `mlenv+wheel://default/${w.filename}#sha256=${w.sha256}`,
      "--ttl",
      "60",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = await fetch(r.stdout.trim());
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(w.bytes);
  });

  it("index url prints the pip index URL with or without the token", async () => {
    const r = await run(["index", "url"]);
    expect(r.stdout.trim()).toBe(
      `${server.url.replace("http://", `http://__token__:${server.token}@`)}/pypi/default/simple/`,
    );
    const bare = await run(["index", "url", "--no-credentials"]);
    expect(bare.stdout.trim()).toBe(`${server.url}/pypi/default/simple/`);
  });

  it("index secret set/list/delete never prints the value", async () => {
    const set = await run(["index", "secret", "set", "CORP_PASS"], async () => "s3cr3t-value\n");
    expect(set.stdout).toBe("Set secret CORP_PASS\n");
    const list = await run(["index", "secret", "list"]);
    expect(list.stdout).toMatch(/^NAME\s+UPDATED\nCORP_PASS\s/);
    expect(list.stdout).not.toContain("s3cr3t");
    expect((await run(["index", "secret", "delete", "CORP_PASS"])).code).toBe(0);
    expectOneLineError(await run(["index", "secret", "delete", "CORP_PASS"]), "E_NOT_FOUND");
  });
  it("with stderr on a terminal upload and download show progress and print the same results", async () => {
    const big = buildWheel({
      name: "zprogress",
      version: "1.0",
      files: { "zprogress/data.txt": randomBytes(2 * 1024 * 1024).toString("base64") },
    });
    writeFileSync(join(t.path, big.filename), big.bytes);
    const tty = { isTTY: { stdout: false, stderr: true }, columns: () => 100 };
    const up = await cli.run(["wheel", "upload", big.filename], tty);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`reference: mlenv+wheel://default/${big.filename}#sha256=${big.sha256}`);
    mkdirSync(join(t.path, "progress-dl"));
    const down = await cli.run(["wheel", "download", big.filename, "-d", "progress-dl", "--json"], tty);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ filename: big.filename, size: big.bytes.length });
    expect(readFileSync(join(t.path, "progress-dl", big.filename))).toEqual(Buffer.from(big.bytes));
    // whatever progress was drawn was erased again (each frame starts with \r and erase-line)
    if (up.stderr) expect(up.stderr.endsWith("\r\x1b[K")).toBe(true);
  }, 120_000);
});
