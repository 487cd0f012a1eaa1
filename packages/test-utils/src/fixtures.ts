/**
 * vitest fixtures: each registers its own beforeAll/afterAll in the describe block it is called in
 * (or the file, at top level) and returns a live view of what beforeAll made. Read the view in
 * hooks and tests, never while the file is being collected.
 *
 * Kept out of the package's main entry so that scripts outside vitest (tools/bench) can import
 * the rest without loading vitest.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { skipWithout } from "./components";
import type { CondaChannelServer } from "./condaChannel";
import { dockerAvailable } from "./docker";
import { type PostgresHandle, postgresMissing, startPostgres } from "./postgres";
import { type PypiIndexOptions, type PypiIndexServer, servePypiIndex } from "./pypiIndex";
import { type LocalRegistry, registryAvailable, type StartRegistryOptions, startRegistry } from "./registry";
import { type ApiClient, apiClient, type StartServerFn, startTestServer, type TestServer } from "./server";
import { makeTempDir } from "./tempDir";

/** How long starting a fixture (PostgreSQL, a server) may take. */
const SETUP_TIMEOUT_MS = 120_000;

/**
 * An object whose properties are read from `current()` when they are used: a test declares it
 * while the file is collected and reads it once beforeAll has made the value. `fixed` members are
 * there from the start (functions that look the value up when called).
 */
export function liveView<T extends object, F extends object = object>(
  what: string,
  current: () => T | undefined,
  fixed?: F,
): T & F {
  return new Proxy({} as T & F, {
    get(_, key) {
      if (fixed && Object.hasOwn(fixed, key)) return Reflect.get(fixed, key);
      const value = current();
      if (value === undefined) throw new Error(`${what} is not started yet (read it in hooks and tests)`);
      const member = Reflect.get(value, key, value);
      return typeof member === "function" ? member.bind(value) : member;
    },
  });
}

/** A fresh temporary directory, made now and removed after the tests of the current block. */
export function useTempDir(prefix?: string): { path: string } {
  const dir = makeTempDir(prefix);
  afterAll(() => dir.cleanup());
  return { path: dir.path };
}

/**
 * What `start` makes before the tests of the current block (ended by `end`, if given, after
 * them); read through a live view.
 */
export function useStarted<T extends object>(
  what: string,
  start: () => Promise<T>,
  end?: (value: T) => Promise<unknown>,
): T {
  let value: T | undefined;
  beforeAll(async () => {
    value = await start();
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    if (value && end) await end(value);
  });
  return liveView(what, () => value);
}

/** The conda channel `serve` starts for the tests of the current block, closed after them. */
export function useCondaChannel(serve: () => Promise<CondaChannelServer>): CondaChannelServer {
  return useStarted("the conda channel", serve, (channel) => channel.close());
}

/**
 * A throw-away PostgreSQL server for the tests of the current block: started before them,
 * stopped (and its data removed) after them.
 */
export function usePostgres(): PostgresHandle {
  return useStarted("PostgreSQL", startPostgres, (pg) => pg.stop());
}

/**
 * `describe(title, body)` with a throw-away PostgreSQL server for its tests (see
 * {@link usePostgres}); skipped loudly where PostgreSQL is missing (a failure under
 * MLENV_REQUIRE_ALL=1).
 */
export function describeWithPostgres(title: string, body: (pg: PostgresHandle) => void): void {
  describe.skipIf(skipWithout("postgres", postgresMissing()))(title, () => body(usePostgres()));
}

/**
 * A throw-away PostgreSQL server started the first time the returned function is called (by a
 * suite that is not skipped), shared by the suites of the current block and stopped after them.
 */
export function usePostgresOnDemand(): () => Promise<PostgresHandle> {
  let started: Promise<PostgresHandle> | undefined;
  afterAll(async () => {
    await (await started?.catch(() => undefined))?.stop();
  });
  return () => {
    started ??= startPostgres();
    return started;
  };
}

/** The database a suite of {@link describeOnEachDatabase} runs on. */
export interface DatabaseBackend {
  name: "sqlite" | "postgres";
  /** The URL of the suite's own PostgreSQL database, or undefined on SQLite (the server's data dir). */
  database(): string | undefined;
}

/**
 * Declare `body` twice: as `title (sqlite)`, and as `title (postgres)` on a fresh database
 * `databaseName` of a throw-away PostgreSQL server. The PostgreSQL suite is skipped loudly where
 * PostgreSQL is missing (a failure under MLENV_REQUIRE_ALL=1).
 */
export function describeOnEachDatabase(
  title: string,
  databaseName: string,
  body: (backend: DatabaseBackend) => void,
): void {
  describe(`${title} (sqlite)`, () => body({ name: "sqlite", database: () => undefined }));
  describe.skipIf(skipWithout("postgres", postgresMissing()))(`${title} (postgres)`, () => {
    const pg = usePostgres();
    let url: string | undefined;
    beforeAll(() => {
      url = pg.createDatabase(databaseName);
    });
    body({ name: "postgres", database: () => url });
  });
}

/** A server of {@link useTestServer}: the running server, and a JSON client with its admin token. */
export type TestServerFixture = TestServer & { api: ApiClient };

/**
 * A real server (see {@link startTestServer}) for the tests of the current block, on SQLite or on
 * `options.database()` when that names a PostgreSQL database; stopped after them. Its `api` may be
 * taken while collecting (`const { api } = useTestServer(startServer)`).
 */
export function useTestServer(
  startServer: StartServerFn,
  options: { database?: () => string | undefined } = {},
): TestServerFixture {
  let srv: TestServer | undefined;
  beforeAll(async () => {
    const database = options.database?.();
    srv = await startTestServer(startServer, database ? { database } : {});
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await srv?.stop();
  });
  const current = () => srv;
  const api: ApiClient = (method, path, body) => {
    const server = current();
    if (!server) throw new Error("the test server is not started yet (call api in hooks and tests)");
    return apiClient(server.url, server.token)(method, path, body);
  };
  return liveView("the test server", current, { api });
}

/** Why tests that build images and push them to a local registry cannot run here, or null when they can. */
export async function imageBuildsMissing(): Promise<string | null> {
  return (await dockerAvailable()) ?? registryAvailable();
}

/** What {@link useImageCleanup} needs of a Docker client (@mlenv/server's DockerClient). */
export interface ImageRemover {
  removeImage(ref: string, options: { force: boolean }): Promise<unknown>;
  pruneDanglingImages(options: { since: Date }): Promise<unknown>;
}

/**
 * The images the tests of the current block make: add each to the returned set; after the tests
 * they are removed, and with `pruneDangling` the dangling images made since the block was
 * collected (what failed and cancelled builds leave behind). Call it before the block's own
 * afterAll that stops servers: after-hooks run last-registered first, so the images go last.
 */
export function useImageCleanup(
  docker: ImageRemover,
  options: { pruneDangling?: boolean } = {},
): Set<string> {
  const since = new Date(Date.now() - 1000);
  const images = new Set<string>();
  afterAll(async () => {
    for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
    if (options.pruneDangling) await docker.pruneDanglingImages({ since }).catch(() => []);
  });
  return images;
}

/** What {@link useImageBuilds} starts for the tests of a block. */
export interface ImageBuildFixture {
  /** A local registry (see {@link startRegistry}). */
  registry: LocalRegistry;
  /** The package index of `options.index` (see {@link servePypiIndex}). */
  index: PypiIndexServer;
  /** The images the tests make, removed after them (see {@link useImageCleanup}). */
  images: Set<string>;
}

/**
 * What tests that build images need, for the tests of the current block: a local registry (with
 * `options.registry`), a package index when `options.index` is given (called in beforeAll: build
 * the wheels there), and the clean-up of the images they make. Call it before the block's own
 * afterAll that stops servers (see {@link useImageCleanup}).
 */
export function useImageBuilds(
  docker: ImageRemover,
  options: { registry?: StartRegistryOptions; index?: () => PypiIndexOptions; pruneDangling?: boolean } = {},
): ImageBuildFixture {
  let registry: LocalRegistry | undefined;
  let index: PypiIndexServer | undefined;
  beforeAll(async () => {
    if (options.index) index = await servePypiIndex(options.index());
    registry = await startRegistry(options.registry);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await index?.close();
    await registry?.stop();
  });
  const images = useImageCleanup(docker, options.pruneDangling ? { pruneDangling: true } : {});
  return {
    registry: liveView("the local registry", () => registry),
    index: liveView("the package index (give useImageBuilds an index)", () => index),
    images,
  };
}
