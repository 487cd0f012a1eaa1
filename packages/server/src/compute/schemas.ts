/** The compute routes' request and response shapes live in the HTTP contract (@mlenv/api). */
import { compute } from "@mlenv/api";

export const {
  AttachSlurmSchema,
  COMPUTE_NAME,
  ComputeTargetView,
  CreateDatastoreSchema,
  DatastoreArgumentSchema,
  DatastoreVersionView,
  DatastoreView,
  PLAIN_PATH,
  ResourcesSchema,
} = compute;
export type AttachSlurmInput = compute.AttachSlurmInput;
export type DatastoreArgument = compute.DatastoreArgument;
export type RunResources = compute.RunResources;
export type SlurmTargetSettings = compute.SlurmTargetSettings;
