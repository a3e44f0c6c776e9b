// What the KmsKey resource loads at run time, in the engine's provider process.
import { KeyProvider } from "./key/provider";
import { serve } from "./serve";
import { sessionOfProcess } from "./session";

export { KeyProvider } from "./key/provider";
export type { KeyInputs, KeyOutputs } from "./inputs";

// This module is itself the provider a key's state names: installed from a registry, Pulumi serializes it as one
// require() of this module, a few hundred bytes per key whatever the provider's size.
const keys = serve(new KeyProvider(sessionOfProcess()));
export const { check, diff, create, read, update } = keys;
// `delete` is a reserved word: exported under that name all the same.
const deleteKey = keys.delete;
export { deleteKey as delete };
