// Every resource's schema, for what derives from all of them (the README's tables, the drift command's view).
import { ALIAS_SCHEMA } from "./alias/schema";
import { KEY_SCHEMA } from "./key/schema";
import { REPLICA_SCHEMA } from "./replica/schema";
import type { ResourceSchema } from "./schema";

export const RESOURCE_SCHEMAS: readonly ResourceSchema[] = [KEY_SCHEMA, REPLICA_SCHEMA, ALIAS_SCHEMA];
