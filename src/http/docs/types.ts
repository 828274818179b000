/** Types of the documentation-schema tables (see registry.ts). */

/** A Fastify route schema used for documentation only (JSON Schema plus OpenAPI keywords). */
export type DocSchema = Record<string, unknown> & { readonly tags: readonly string[]; readonly summary: string };

/** `"GET /client/v4/accounts/:account/images/v1"` → schema. */
export type DocSchemas = Readonly<Record<string, DocSchema>>;
