// What the KmsAlias resource loads at run time, in the engine's provider process.
import { serve } from "../serve";
import { sessionOfProcess } from "../session";
import { AliasProvider } from "./provider";

export { AliasProvider } from "./provider";
export type { AliasInputs, AliasOutputs } from "./provider";

// As provider/index.ts: this module is the provider an alias's state names, one require() of it. It shares the
// process's session (clients, rate limiters) with KmsKey's module.
const aliases = serve(new AliasProvider(sessionOfProcess()));
export const { check, diff, create, read, update } = aliases;
// `delete` is a reserved word: exported under that name all the same.
const deleteAlias = aliases.delete;
export { deleteAlias as delete };
