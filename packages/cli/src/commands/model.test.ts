import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Model, Workspace } from "@mlenv/sdk";
import { describe, expect, it } from "vitest";
import { useCliServer } from "../e2e/cliServer";

const cli = useCliServer("mlenv-cli-model-");
const { server, dir: t } = cli;

const run = (argv: string[]) => cli.run(argv);

describe("mlenv model download (GET /api/v1/models/{name}/versions/{version}/files/content)", () => {
  const weights = new Uint8Array([0, 1, 2, 250, 255]);
  const config = new TextEncoder().encode('{"layers":2}\n');

  it("saves every file of a model version, the latest by default, as registered", async () => {
    const ws = new Workspace({ url: server.url, token: server.token });
    await Model.register(ws, { name: "clf", files: [{ path: "weights.bin", content: new Uint8Array([9]) }] });
    await Model.register(ws, {
      name: "clf",
      files: [
        { path: "weights.bin", content: weights },
        { path: "config.json", content: config },
      ],
    });

    const r = await run(["model", "download", "-n", "clf", "-d", "out", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      name: "clf",
      version: 2,
      size: weights.length + config.length,
    });
    expect(new Uint8Array(readFileSync(join(t.path, "out", "weights.bin")))).toEqual(weights);
    expect(readFileSync(join(t.path, "out", "config.json"), "utf8")).toBe('{"layers":2}\n');

    const v1 = await run(["model", "download", "-n", "clf", "-v", "1", "-d", "v1"]);
    expect(v1.code).toBe(0);
    expect(v1.stdout).toMatch(/Saved model clf version 1 \(1 file\(s\), 1 bytes\) to v1/);
    expect([...readFileSync(join(t.path, "v1", "weights.bin"))]).toEqual([9]);
  });

  it("refuses to replace files unless --overwrite", async () => {
    const again = await run(["model", "download", "-n", "clf", "-d", "out"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/exists; pass --overwrite/);
    expect((await run(["model", "download", "-n", "clf", "-d", "out", "--overwrite"])).code).toBe(0);
  });

  it("a missing version or file is the server's E_NOT_FOUND", async () => {
    const missing = await run(["model", "download", "-n", "clf", "-v", "7", "-d", "none"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/E_NOT_FOUND/);
    expect(existsSync(join(t.path, "none"))).toBe(false);
    const ws = new Workspace({ url: server.url, token: server.token });
    const { RunsClient } = await import("@mlenv/sdk");
    await expect(new RunsClient(ws).modelFile("clf", 2, "nope.bin")).rejects.toMatchObject({
      code: "E_NOT_FOUND",
      status: 404,
    });
  });
});
