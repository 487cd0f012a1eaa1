/**
 * A database written through every store, read back through every store: `legacy-0014.db` was
 * written by the server as of migration 0014 (commit 13f96b1, before the one database layer) with
 * `populate`, and `legacy-0014.json` is what that server's `readAll` answered. The current stores must read
 * the same from it (test/store/legacy.test.ts).
 */

// biome-ignore lint/suspicious/noExplicitAny: the old and the current stores differ in type; the test compares what they answer
type Loose = any;

/** The stores' openers, as both the old and the current server export them. */
export interface StoreApi {
  SqliteStore: new (file: string) => Loose;
  openWheelCatalog(location: { sqliteFile: string }): Loose;
  openBuildJobStore(location: { sqliteFile: string }): Loose;
  openRunStore(location: { sqliteFile: string }): Loose;
  openComputeStore(location: { sqliteFile: string }): Loose;
}

const now = "2026-01-01T00:00:00.000Z";
const hash = (c: string) => c.repeat(64);

export async function populate(api: StoreApi, file: string): Promise<void> {
  const store = new api.SqliteStore(file);
  await store.migrate();
  const ws = await store.createWorkspace("default", now, { name: "admin", tokenHash: hash("a") });
  await store.createToken({ workspaceId: ws.id, name: "ci", role: "writer", tokenHash: hash("b"), now });
  const reader = await store.createToken({
    workspaceId: ws.id,
    name: "gone",
    role: "reader",
    tokenHash: hash("c"),
    now,
  });
  await store.revokeToken(ws.id, reader.id, now);
  const base = {
    workspaceId: ws.id,
    definitionBlob: `sha256:${hash("0")}`,
    description: "a test environment",
    curated: false,
    createdBy: "admin",
    now,
  };
  for (const [name, v] of [
    ["torch", 1],
    ["torch", 2],
    ["jax", 1],
    ["curated/base", 1],
  ] as const) {
    await store.register({
      ...base,
      name,
      curated: name.startsWith("curated/"),
      definitionHash: hash(String(v)) + name,
      definitionJson: JSON.stringify({ name, v }),
      tags: { team: "ml", v: String(v) },
      lockJson: v === 2 ? JSON.stringify({ lock: name }) : null,
      imageKey: `key-${name}-${v}`,
    });
  }
  await store.setLabel({ workspaceId: ws.id, name: "torch", label: "prod", version: 1, now });
  await store.setLabel({ workspaceId: ws.id, name: "torch", label: "latest-good", version: 2, now });
  await store.setArchived(ws.id, "jax", true, now);
  await store.close();

  const catalog = api.openWheelCatalog({ sqliteFile: file });
  const wheel = {
    workspaceId: ws.id,
    filename: "demo-1.0-py3-none-any.whl",
    project: "demo",
    name: "Demo",
    version: "1.0",
    sha256: hash("d"),
    size: 1234,
    metadataSha256: hash("e"),
    requiresPython: ">=3.9",
    summary: "demo",
    uploadedAt: now,
    uploadedBy: "admin",
    overwrite: true,
  };
  await catalog.put(wheel);
  await catalog.put({ ...wheel, sha256: hash("f") });
  await catalog.setYanked({ workspaceId: ws.id, filename: wheel.filename, yanked: true, reason: "broken" });
  await catalog.putSecret({ workspaceId: ws.id, name: "PIP_TOKEN", value: "s3cret", now });
  await catalog.setSecretHosts(ws.id, "PIP_TOKEN", ["pypi.corp.example"]);
  await catalog.close();

  const jobs = api.openBuildJobStore({ sqliteFile: file });
  const { job } = await jobs.enqueue({
    workspaceId: ws.id,
    imageKey: "key-torch-2",
    image: "mlenv/torch:2",
    request: { name: "torch" },
  });
  await jobs.appendLogs(job.id, [
    { seq: 1, step: 1, text: "FROM python" },
    { seq: 2, step: null, text: "done" },
  ]);
  await jobs.close();

  const runs = api.openRunStore({ sqliteFile: file });
  const run = await runs.createRun({
    workspaceId: ws.id,
    experiment: "exp",
    target: "local",
    script: "train.py",
    arguments: ["--epochs", "1"],
    snapshot: `sha256:${hash("1")}`,
    environment: {
      name: "torch",
      version: 2,
      definitionHash: hash("2"),
      imageKey: "key-torch-2",
      definition: { name: "torch" },
      lock: null,
    },
    createdBy: "admin",
  });
  await runs.setRunStatus(run.id, "completed", { exitCode: 0 });
  await runs.appendLogs(run.id, [{ seq: 1, stream: "stdout", text: "epoch 1" }]);
  await runs.addMetric(run.id, "loss", 0.5);
  await runs.registerModel({
    workspaceId: ws.id,
    name: "model",
    digest: hash("3"),
    files: [],
    runId: run.id,
    description: null,
    createdBy: "admin",
  });
  await runs.close();

  const compute = api.openComputeStore({ sqliteFile: file });
  await compute.insertDatastore({
    workspaceId: ws.id,
    name: "data",
    kind: "local",
    path: "/data",
    description: null,
    createdBy: "admin",
  });
  await compute.addVersion({
    workspaceId: ws.id,
    name: "data",
    digest: hash("4"),
    files: [],
    size: 0,
    createdBy: "admin",
  });
  await compute.close();
}

/** What every store answers about the database `populate` wrote. */
export async function readAll(api: StoreApi, file: string): Promise<Record<string, unknown>> {
  const store = new api.SqliteStore(file);
  await store.migrate();
  const ws = await store.getWorkspace("default");
  // a listed environment as that server answered it: its record, and its latest version (from the
  // list item, which a database of that age gets made on its first listing)
  const listed = async (input: Parameters<typeof store.listEnvironments>[0]) =>
    Promise.all(
      (await store.listEnvironments(input)).map(async (l: { name: string; summaryJson: string }) => ({
        environment: await store.getEnvironment(ws.id, l.name),
        latest: JSON.parse(l.summaryJson),
      })),
    );
  const out: Record<string, unknown> = {
    applied: await store.appliedMigrations(),
    workspaces: await store.listWorkspaces(),
    admin: await store.findToken(hash("a")),
    revoked: await store.findToken(hash("c")),
    tokens: await store.listTokens(ws.id),
    environments: await listed({ workspaceId: ws.id, limit: 100, archived: "include" }),
    notArchived: await listed({ workspaceId: ws.id, limit: 100, archived: "exclude" }),
    tagged: await listed({
      workspaceId: ws.id,
      limit: 100,
      archived: "include",
      tagKey: "v",
      tagValue: "2",
    }),
    torch: await store.listVersions(ws.id, "torch"),
    resolvedLatest: await store.resolve(ws.id, "torch", {}),
    resolvedProd: await store.resolve(ws.id, "torch", { label: "prod" }),
    labels: await store.listLabels(ws.id, "torch"),
    jax: await store.getEnvironment(ws.id, "jax"),
  };
  await store.close();
  const catalog = api.openWheelCatalog({ sqliteFile: file });
  out.wheels = await catalog.list(ws.id);
  out.revisions = await catalog.revisions(ws.id, "demo-1.0-py3-none-any.whl");
  out.secrets = await catalog.listSecrets(ws.id);
  out.secret = await catalog.getSecret(ws.id, "PIP_TOKEN");
  out.secretHosts = await catalog.getSecretHosts(ws.id, "PIP_TOKEN");
  await catalog.close();
  const jobs = api.openBuildJobStore({ sqliteFile: file });
  const [job] = await jobs.list({ workspaceId: ws.id });
  out.jobs = await jobs.list({ workspaceId: ws.id });
  out.jobLogs = await jobs.logs(job.id);
  await jobs.close();
  const runs = api.openRunStore({ sqliteFile: file });
  const [run] = await runs.listRuns({ workspaceId: ws.id });
  out.runs = await runs.listRuns({ workspaceId: ws.id });
  out.runLogs = await runs.logs(run.id);
  out.metrics = await runs.metrics(run.id);
  out.models = await runs.listModels(ws.id);
  await runs.close();
  const compute = api.openComputeStore({ sqliteFile: file });
  out.datastores = await compute.listDatastores(ws.id);
  out.datastoreVersions = await compute.listVersions(ws.id, "data");
  await compute.close();
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}
