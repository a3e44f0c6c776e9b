// What the KmsKey resource loads at run time, in the engine's provider process.
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { KeyProvider } from "./keyProvider";
import { shownOnce } from "./shownOnce";

export { KeyProvider } from "./keyProvider";
export type { KeyInputs, KeyOutputs } from "./inputs";

// This module is itself the provider a key's state names: installed from a registry, Pulumi serializes it as one
// require() of this module, a few hundred bytes per key whatever the provider's size.
// Each method's expected errors reach the user once, as one line (see shownOnce); the host logs those of check, diff,
// read and delete itself.
type Props = Record<string, unknown>;
const keys = new KeyProvider();
export const check = (olds: Props, news: Props): Promise<dynamic.CheckResult> =>
  shownOnce(keys.check(olds, news), true);
export const diff = (id: string, olds: Props, news: Props): Promise<dynamic.DiffResult> =>
  shownOnce(keys.diff(id, olds, news), true);
export const create = (inputs: Props): Promise<dynamic.CreateResult> => shownOnce(keys.create(inputs), false);
export const read = (id: string, props: Props): Promise<dynamic.ReadResult> => shownOnce(keys.read(id, props), true);
export const update = (id: string, olds: Props, news: Props): Promise<dynamic.UpdateResult> =>
  shownOnce(keys.update(id, olds, news), false);
// `delete` is a reserved word: exported under that name all the same.
const deleteKey = (id: string, props: Props): Promise<void> => shownOnce(keys.delete(id, props), true);
export { deleteKey as delete };
