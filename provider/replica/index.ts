// What the KmsReplicaKey resource loads at run time, in the engine's provider process.
// The provider first: loaded before the schemas, provider/validation.ts (through ../session) would meet its require
// cycle (validation -> keyAddress -> inputs -> key/schema -> validation) half-made, as a destroy that starts here does.
import { ReplicaProvider } from "./provider";
import { serve } from "../serve";
import { sessionOfProcess } from "../session";

export { ReplicaProvider } from "./provider";
export type { ReplicaInputs, ReplicaOutputs } from "./provider";

// This module is itself the provider a replica's state names: installed from a registry, Pulumi serializes it as one
// require() of this module. It shares the process's one session with KmsKey's module.
const replicas = serve(new ReplicaProvider(sessionOfProcess()));
export const { check, diff, create, read, update } = replicas;
// `delete` is a reserved word: exported under that name all the same.
const deleteReplica = replicas.delete;
export { deleteReplica as delete };
