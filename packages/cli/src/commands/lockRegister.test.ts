import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "@mlenv/server";
import {
  makeTempDir,
  repodataJson,
  serveCondaChannel,
  startTestServer,
  type TestServer,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const t = makeTempDir("mlenv-cli-lockreg-");
let server: TestServer;
let channel: Awaited<ReturnType<typeof serveCondaChannel>>;
let env: Record<string, string>;
const run = (...argv: string[]) => runInProcess(argv, { cwd: t.path, env });

const base = [
  { name: "python", version: "3.12.1", build: "h0_0" },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13"] },
];

/** A definition folder `dir` whose conda file asks for `numpy`. */
function defFolder(dir: string, name: string, numpy: string, channelUrl = channel.url): void {
  mkdirSync(join(t.path, dir), { recursive: true });
  writeFileSync(
    join(t.path, dir, "env.yml"),
    `name: ${name}\nchannels:\n  - ${channelUrl}\ndependencies:\n  - python=3.12\n  - ${numpy}\n`,
  );
}

beforeAll(async () => {
  channel = await serveCondaChannel({ files: { "linux-64/repodata.json": repodataJson(base) } });
  server = await startTestServer(startServer);
  env = {
    HOME: t.path,
    MLENV_URL: server.url,
    MLENV_TOKEN: server.token,
    MLENV_CONFIG: join(t.path, "none.json"),
  };
});
afterAll(async () => {
  await server?.stop();
  await channel?.close();
  t.cleanup();
});

const show = async (name: string) => JSON.parse((await run("env", "show", "-n", name, "--json")).stdout);

describe("mlenv env register with locks", () => {
  it("locks at register time when the channel answers; same packages share an imageKey", async () => {
    defFolder("loose", "loose", "numpy");
    const r = await run("env", "register", "-d", "loose/env.yml");
    // Only core's W_UNPINNED validation warnings, nothing about locking.
    expect(r.stderr).not.toContain("registering unlocked");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Registered loose version 1 \(mlenv1-sha256:[0-9a-f]{64}\), locked \(resolved now\)\n$/,
    );
    // A differently written definition locked with `mlenv env lock`: the lock beside it is sent.
    defFolder("ranged", "ranged", "numpy>=1.20");
    expect((await run("env", "lock", "-d", "ranged/env.yml", "--platform", "linux-64")).code).toBe(0);
    const r2 = await run("env", "register", "-d", "ranged/env.yml");
    expect(r2.stdout).toMatch(/, locked \(.*ranged\/mlenv\.lock\)\n$/);
    const [a, b] = [await show("loose"), await show("ranged")];
    expect(a.definitionHash).not.toBe(b.definitionHash);
    expect(a).toMatchObject({ locked: true });
    expect(a.imageKey).toBe(b.imageKey);
    const text = (await run("env", "show", "-n", "ranged")).stdout;
    expect(text).toMatch(/^locked: +yes$/m);

    // Drift against the stored lock: the channel now has a newer numpy.
    channel.setFile(
      "linux-64/repodata.json",
      repodataJson([
        ...base,
        { name: "numpy", version: "2.1.0", build: "py312_0", depends: ["python >=3.12,<3.13"] },
      ]),
    );
    const out = await run("env", "outdated", "-n", "loose", "-v", "1");
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/linux-64\s+conda\s+numpy\s+1\.26\.4\s+2\.1\.0/);
    // A relock picks numpy 2.1.0: another definition locked now gets another image key.
    defFolder("later", "later", "numpy");
    await run("env", "register", "-d", "later/env.yml");
    expect((await show("later")).imageKey).not.toBe(a.imageKey);
    channel.setFile("linux-64/repodata.json", repodataJson(base));
  });

  it("registers unlocked with one warning line when the channel is unreachable", async () => {
    defFolder("offline", "offline", "numpy", "http://127.0.0.1:9/nothing");
    const r = await run("env", "register", "-d", "offline/env.yml");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/, unlocked\n$/);
    const lines = r.stderr.split("\n").filter((l) => !/: warning W_/.test(l) && l !== "");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^warning: registering unlocked: .*unreachable\) \[E_FETCH_FAILED\]; run mlenv env lock -d offline\/env\.yml/,
    );
    expect(await show("offline")).toMatchObject({ locked: false });
    expect((await run("env", "show", "-n", "offline")).stdout).toMatch(/^locked: +no/m);
    const o = await run("env", "outdated", "-n", "offline");
    expect(o.code).not.toBe(0);
    expect(o.stderr).toContain("is unlocked");
  });

  it("a stale mlenv.lock beside the definition is refused and nothing is stored", async () => {
    defFolder("stale", "stale", "numpy");
    expect((await run("env", "lock", "-d", "stale/env.yml", "--platform", "linux-64")).code).toBe(0);
    defFolder("stale", "stale", "numpy>=1.0");
    const r = await run("env", "register", "-d", "stale/env.yml");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/expected definitionHash .*\[E_LOCK_MISMATCH\]/);
    expect((await run("env", "show", "-n", "stale")).code).not.toBe(0);
    // --no-lock registers it unlocked without trying.
    const n = await run("env", "register", "-d", "stale/env.yml", "--no-lock");
    expect(n.stderr).not.toContain("registering unlocked");
    expect(n.stdout).toMatch(/, unlocked\n$/);
  });
});
