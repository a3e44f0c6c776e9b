// What the KmsKey resource loads at run time, in the engine's provider process.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { KeyProvider } from "./keyProvider";

export { KeyProvider } from "./keyProvider";
export type { KeyInputs, KeyOutputs } from "./inputs";

// This module is itself the provider a key's state names: installed from a registry, Pulumi serializes it as one
// require("pulumi-kms-key/provider"), a few hundred bytes per key whatever the provider's size.
type Props = Record<string, unknown>;
const keys = new KeyProvider();
export const check = (olds: Props, news: Props): Promise<dynamic.CheckResult> => keys.check(olds, news);
export const diff = (id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> => keys.diff(id, olds, news);
export const create = (inputs: Props): Promise<dynamic.CreateResult> => keys.create(inputs);
export const read = (id: string, props: Props): Promise<dynamic.ReadResult> => keys.read(id, props);
export const update = (id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> =>
  keys.update(id, olds, news);
// `delete` is a reserved word: exported under that name all the same.
const deleteKey = (id: string, props: Props): Promise<void> => keys.delete(id, props);
export { deleteKey as delete };
