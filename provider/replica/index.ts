// What the KmsReplicaKey resource loads at run time, in the engine's provider process.
import { serve } from "../serve";
import { sessionOfProcess } from "../session";
import { ReplicaProvider } from "./provider";

export { ReplicaProvider } from "./provider";
export type { ReplicaInputs, ReplicaOutputs } from "./provider";

// This module is itself the provider a replica's state names: installed from a registry, Pulumi serializes it as one
// require() of this module. It shares the process's one session with KmsKey's module.
const replicas = serve(new ReplicaProvider(sessionOfProcess()));
export const { check, diff, create, read, update } = replicas;
// `delete` is a reserved word: exported under that name all the same.
const deleteReplica = replicas.delete;
export { deleteReplica as delete };
