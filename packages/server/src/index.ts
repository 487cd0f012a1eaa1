export type { AppDeps } from "./app";
export { createApp } from "./app";
export { generateToken, hashToken } from "./auth";
export type { BlobDigest, BlobStore } from "./blobs/blobStore";
export { blobDigest, FsBlobStore, isBlobDigest } from "./blobs/blobStore";
export * from "./builds/index";
export { PostgresStore, SqliteStore, serverMigrations } from "./database";
export * from "./docker/index";
export { isReservedName, RESERVED_PREFIX } from "./environments/curated";
export type {
  EnvironmentSummaryView,
  EnvironmentVersionView,
  RegisterOutcome,
} from "./environments/registry";
export { Registry } from "./environments/registry";
export { isServerError, ServerError, ServerErrorCode } from "./errors";
export type { LogFields, Logger, LogLevel } from "./logger";
export { jsonLogger, silentLogger } from "./logger";
export type {
  LogLine,
  MetricRecord,
  ModelRecord,
  RunArtifact,
  RunEnvironment,
  RunRecord,
  RunStatus,
  ServiceRecord,
  ServiceStatus,
} from "./runs/runStore";
export { openRunStore, RunStore, runsMigrationSql } from "./runs/runStore";
export type { RunSupport, RunSupportOptions } from "./runs/support";
export { openRunSupport } from "./runs/support";
export type { RunningServer, ServerOptions } from "./server";
export { openStore, startServer } from "./server";
export * from "./settings";
export type { SignedBlobClaims, SigningErrorCode } from "./signing/urlSigner";
export {
  DEFAULT_SIGNED_URL_TTL_SECONDS,
  generateSigningKey,
  isSigningError,
  SigningError,
  SigningErrorCodes,
  UrlSigner,
} from "./signing/urlSigner";
export type { Database, OpenDatabaseOptions, SqlLocation } from "./store/database";
export { openDatabase } from "./store/database";
export type { Migration } from "./store/migrator";
export { appliedMigrations, migrate } from "./store/migrator";
export type { SqlStoreOptions } from "./store/sqlStore";
export { SqlStore } from "./store/sqlStore";
export type * from "./store/types";
export type {
  SecretInfo,
  WheelCatalog,
  WheelPutInput,
  WheelPutResult,
  WheelRecord,
  WheelRevision,
} from "./wheels/catalog";
export type { WheelErrorCode, WheelErrorOptions } from "./wheels/errors";
export { isWheelError, WheelError, WheelErrorCodes } from "./wheels/errors";
export * from "./wheels/reference";
export type { ResolvedWheel, ResolveOptions } from "./wheels/resolve";
export { resolveWheelReference, resolveWheelReferences } from "./wheels/resolve";
export type { WheelInfo, WheelRoutesDeps } from "./wheels/routes";
export { wheelRoutes } from "./wheels/routes";
export { openWheelCatalog } from "./wheels/sqlCatalog";
export type { WheelSupport, WheelSupportOptions } from "./wheels/support";
export { openWheelSupport } from "./wheels/support";
export type { ValidatedWheel } from "./wheels/validateWheel";
export { validateWheel } from "./wheels/validateWheel";
export type { WheelFilename } from "./wheels/wheelFilename";
export { parseWheelFilename } from "./wheels/wheelFilename";
