import { join } from "node:path";
import { parseDefinition } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import { describeOnEachDatabase } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FsBlobStore } from "../blobs/blobStore";
import { DockerClient } from "../docker/index";
import { Registry } from "../environments/registry";
import { openStore } from "../server";
import type { Store } from "../store/types";
import type { WheelCatalog } from "../wheels/catalog";
import { openWheelCatalog } from "../wheels/sqlCatalog";
import { ImageBuilder } from "./builder";
import { type BuildJobStore, openBuildJobStore } from "./jobStore";
import { catalogPrivateInputs } from "./privateInputs";

const FILE = "corp_lib-1.0-py3-none-any.whl";

const def = (pip: string[]) =>
  parseDefinition({
    name: "uses-wheel",
    python: {
      condaDependencies: {
        name: "project_environment",
        dependencies: ["python=3.11", "pip", { pip }],
      },
    },
  });

describeOnEachDatabase("image and venv keys of private inputs", "private_keys", ({ database }) => {
  const dir = makeTempDir("mlenv-private-keys-");
  let store: Store;
  let catalog: WheelCatalog;
  let jobs: BuildJobStore;
  let builder: ImageBuilder;
  let registry: Registry;
  let a: string;
  let b: string;
  const put = (workspaceId: string, sha256: string, overwrite = false) =>
    catalog.put({
      workspaceId,
      filename: FILE,
      project: "corp-lib",
      name: "corp-lib",
      version: "1.0",
      sha256,
      size: 100,
      metadataSha256: "f".repeat(64),
      requiresPython: null,
      summary: null,
      uploadedAt: new Date().toISOString(),
      uploadedBy: "test",
      overwrite,
    });
  beforeAll(async () => {
    const db = database();
    store = await openStore({ dataDir: dir.path, ...(db ? { database: db } : {}) });
    const location = db ? { postgresUrl: db } : { sqliteFile: join(dir.path, "mlenv.db") };
    catalog = openWheelCatalog(location);
    jobs = openBuildJobStore(location);
    const now = new Date().toISOString();
    a = (await store.createWorkspace("team-a", now)).id;
    b = (await store.createWorkspace("team-b", now)).id;
    // no engine call is made: only keys are computed
    builder = new ImageBuilder({
      docker: new DockerClient(),
      privateInputs: catalogPrivateInputs(catalog),
    });
    registry = new Registry({
      store,
      blobs: new FsBlobStore(join(dir.path, "blobs")),
      privateInputs: catalogPrivateInputs(catalog),
    });
  });
  afterAll(async () => {
    await jobs?.close();
    await catalog?.close();
    await store?.close();
    dir.cleanup();
  });

  it("a reference without #sha256 keys the image by the wheel's current bytes (a new key after an overwrite)", async () => {
    await put(a, "1".repeat(64));
    const d = def([`mlenv+wheel://team-a/${FILE}`]);
    const before = await builder.keyFor(d, undefined, a);
    expect(before.imageKey).not.toBe(builder.imageFor(d).imageKey);
    await put(a, "2".repeat(64), true);
    const after = await builder.keyFor(d, undefined, a);
    expect(after.imageKey).not.toBe(before.imageKey);
    expect(after.image).not.toBe(before.image);
    // a pinned reference keeps its key whatever the file holds now
    const pinned = def([`mlenv+wheel://team-a/${FILE}#sha256=${"1".repeat(64)}`]);
    const k1 = await builder.keyFor(pinned, undefined, a);
    await put(a, "3".repeat(64), true);
    expect((await builder.keyFor(pinned, undefined, a)).imageKey).toBe(k1.imageKey);
  });

  it("another workspace naming the same wheel and bytes gets another image and venv", async () => {
    const sha = "4".repeat(64);
    await put(a, sha, true);
    await put(b, sha);
    // B names A's wheel by file name and sha256: still not A's image
    const d = def([`mlenv+wheel://team-a/${FILE}#sha256=${sha}`]);
    const ka = await builder.keyFor(d, undefined, a);
    const kb = await builder.keyFor(d, undefined, b);
    expect(kb.imageKey).not.toBe(ka.imageKey);
    const va = await registry.workspaceImageKey(d, null, a);
    const vb = await registry.workspaceImageKey(d, null, b);
    expect(vb).not.toBe(va);
    // the registry's key (runs, services) and the builder's are one function's
    expect(va).toBe(ka.imageKey);
    expect(vb).toBe(kb.imageKey);
    // secrets make a definition private too
    const s = def([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${MLENV_SECRET_*} reference syntax
      "--extra-index-url https://ci:${MLENV_SECRET_TOKEN}@pypi.corp.test/simple",
      "corp-x==1",
    ]);
    expect((await builder.keyFor(s, undefined, a)).imageKey).not.toBe(
      (await builder.keyFor(s, undefined, b)).imageKey,
    );
  });

  it("a public definition keeps core's key in every workspace (its image is shared)", async () => {
    const d = def(["requests==2.32.3"]);
    const core = builder.imageFor(d).imageKey;
    expect((await builder.keyFor(d, undefined, a)).imageKey).toBe(core);
    expect((await builder.keyFor(d, undefined, b)).imageKey).toBe(core);
    expect(await registry.workspaceImageKey(d, null, b)).toBe(core);
  });

  it("builds of one key in two workspaces are two jobs, each its workspace's", async () => {
    const key = `mlenv1-sha256:${"9".repeat(64)}`;
    const ja = await jobs.enqueue({ workspaceId: a, imageKey: key, image: "x", request: {} });
    const jb = await jobs.enqueue({ workspaceId: b, imageKey: key, image: "x", request: {} });
    expect(ja.created).toBe(true);
    expect(jb.created).toBe(true);
    expect(jb.job.id).not.toBe(ja.job.id);
    expect(jb.job.workspaceId).toBe(b);
    // within a workspace they still coalesce
    const again = await jobs.enqueue({ workspaceId: b, imageKey: key, image: "x", request: {} });
    expect(again).toMatchObject({ created: false, job: { id: jb.job.id } });
  });
});
