import { definitionHash, type Lock, parseDefinition, serializeLock } from "@mlenv/core";
import { describeOnEachDatabase, useTestServer } from "@mlenv/test-utils/fixtures";
import { expect, it } from "vitest";
import { pipDefinition } from "../test/helpers";
import { startServer } from "./server";

// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON responses
type Json = Record<string, any>;

/** A lock of `d` pinning python and one pip package at `version`. */
function lockOf(d: Json, pipVersion: string): Lock {
  const sha = (c: string) => c.repeat(64);
  return {
    lockVersion: 1,
    definitionHash: definitionHash(parseDefinition(d)),
    channels: ["http://127.0.0.1:1/conda-forge"],
    indexes: ["http://127.0.0.1:1/simple"],
    platforms: {
      "linux-64": {
        conda: [
          {
            name: "python",
            version: "3.11.9",
            build: "h_0",
            channel: "http://127.0.0.1:1/conda-forge",
            subdir: "linux-64",
            url: "http://127.0.0.1:1/conda-forge/linux-64/python-3.11.9-h_0.conda",
            sha256: sha("a"),
            depends: [],
          },
        ],
        pip: [
          {
            name: "requests",
            version: pipVersion,
            url: `http://127.0.0.1:1/simple/requests/requests-${pipVersion}-py3-none-any.whl`,
            sha256: sha(pipVersion === "2.32.3" ? "b" : "c"),
            requires: [],
          },
        ],
      },
    },
  };
}

describeOnEachDatabase("environment locks over HTTP", "registry_locks", ({ database }) => {
  const srv = useTestServer(startServer, { database });
  const api = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${srv.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  };

  it("two definitions locking to the same packages share an imageKey; a changed package changes it", async () => {
    const loose = pipDefinition("lk-loose", ["requests"]);
    const pinned = pipDefinition("lk-pinned", ["requests==2.32.3"]);
    const a = await api("POST", "/api/v1/environments", {
      definition: loose,
      lock: lockOf(loose, "2.32.3"),
    });
    // YAML text is accepted too.
    const b = await api("POST", "/api/v1/environments", {
      definition: pinned,
      lock: serializeLock(lockOf(pinned, "2.32.3")),
    });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(a.json.environment.locked).toBe(true);
    expect(b.json.environment.locked).toBe(true);
    expect(a.json.environment.imageKey).toMatch(/sha256:[0-9a-f]{64}$/);
    expect(a.json.environment.imageKey).toBe(b.json.environment.imageKey);

    // Unlocked, the loose and pinned definitions have different keys, both unlike the locked one.
    const ul = await api("POST", "/api/v1/environments", {
      definition: pipDefinition("lk-u1", ["requests"]),
    });
    const up = await api("POST", "/api/v1/environments", {
      definition: pipDefinition("lk-u2", ["requests==2.32.3"]),
    });
    expect(ul.json.environment.locked).toBe(false);
    expect(ul.json.environment.imageKey).not.toBe(up.json.environment.imageKey);
    expect(ul.json.environment.imageKey).not.toBe(a.json.environment.imageKey);

    // A relock that moves requests gives another key.
    const other = pipDefinition("lk-relocked", ["requests"]);
    const c = await api("POST", "/api/v1/environments", {
      definition: other,
      lock: lockOf(other, "2.33.0"),
    });
    expect(c.json.environment.imageKey).not.toBe(a.json.environment.imageKey);

    const got = await api("GET", "/api/v1/environments/lk-loose/versions/1/lock");
    expect(got.status).toBe(200);
    expect(got.json.platforms["linux-64"].pip[0]).toMatchObject({ name: "requests", version: "2.32.3" });
    expect((await api("GET", "/api/v1/environments/lk-loose")).json).toMatchObject({
      locked: true,
      imageKey: a.json.environment.imageKey,
    });
    // A clone keeps the lock, so it shares the image.
    const cl = await api("POST", "/api/v1/environments/lk-loose/clone", { newName: "lk-clone" });
    expect(cl.status).toBe(201);
    expect(cl.json.environment).toMatchObject({ locked: true, imageKey: a.json.environment.imageKey });
    const listed = (await api("GET", "/api/v1/environments?prefix=lk-")).json.items as Json[];
    expect(listed.find((e) => e.name === "lk-loose")).toMatchObject({ locked: true });
    expect(listed.find((e) => e.name === "lk-u1")).toMatchObject({ locked: false });

    // A build of the locked version is keyed (and rendered) from the stored lock, like the registry.
    const build = await api("POST", "/api/v1/environments/lk-loose/builds", { version: 1 });
    expect(build.status).toBe(202);
    expect(build.json.job.imageKey).toBe(a.json.environment.imageKey);
    await api("POST", `/api/v1/builds/${build.json.job.id}/cancel`);
  });

  it("a lock of another definition is refused and nothing is stored", async () => {
    const d = pipDefinition("lk-mismatch", ["numpy"]);
    const r = await api("POST", "/api/v1/environments", {
      definition: d,
      lock: lockOf(pipDefinition("lk-mismatch", ["scipy"]), "2.32.3"),
    });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe("E_LOCK_MISMATCH");
    expect(r.json.message).toContain("expected definitionHash");
    expect((await api("GET", "/api/v1/environments/lk-mismatch")).status).toBe(404);
    const bad = await api("POST", "/api/v1/environments", { definition: d, lock: "lockVersion: 7\n" });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe("E_LOCK_INVALID");
    expect((await api("GET", "/api/v1/environments/lk-mismatch")).status).toBe(404);
  });

  it("unlocked versions have no lock; a lock is attached once, then the version keeps it", async () => {
    const d = pipDefinition("lk-attach", ["pandas"]);
    const u = await api("POST", "/api/v1/environments", { definition: d });
    expect(u.json.environment).toMatchObject({ version: 1, locked: false });
    const none = await api("GET", "/api/v1/environments/lk-attach/versions/1/lock");
    expect(none.status).toBe(404);
    expect(none.json.code).toBe("E_NOT_FOUND");
    const att = await api("POST", "/api/v1/environments", { definition: d, lock: lockOf(d, "2.32.3") });
    expect(att.status).toBe(200);
    expect(att.json.environment).toMatchObject({ version: 1, locked: true });
    expect(att.json.environment.imageKey).not.toBe(u.json.environment.imageKey);
    // Same lock again: fine; another lock for the same definition: conflict, lock unchanged.
    expect(
      (await api("POST", "/api/v1/environments", { definition: d, lock: lockOf(d, "2.32.3") })).status,
    ).toBe(200);
    const again = await api("POST", "/api/v1/environments", { definition: d, lock: lockOf(d, "2.33.0") });
    expect(again.status).toBe(409);
    const kept = await api("GET", "/api/v1/environments/lk-attach/versions/1/lock");
    expect(kept.json.platforms["linux-64"].pip[0].version).toBe("2.32.3");
    expect((await api("GET", "/api/v1/environments/lk-attach/versions/9/lock")).status).toBe(404);
  });
});
