/**
 * `npm run client:types`: the typed client's types (src/client/openapi.ts),
 * made by openapi-typescript from the OpenAPI document the service serves at
 * /openapi.json (src/http/openapi.ts). A test fails while the file differs
 * from what this makes, so a change to the API's schema comes with its types.
 *
 * @example node scripts/client-types.ts   # writes src/client/openapi.ts
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { openApiDocument } from '../src/http/openapi.ts';

export const CLIENT_TYPES_FILE = fileURLToPath(new URL('../src/client/openapi.ts', import.meta.url));

const HEADER = `/**
 * The API's paths, requests and answers as TypeScript types, made by
 * openapi-typescript from /openapi.json. Do not edit: \`npm run client:types\`
 * makes it again (scripts/client-types.ts).
 */

`;

/** The file's content for the document as it is now (the version in it does not change the types). */
export async function clientTypes(): Promise<string> {
  // Through JSON: the document makes its request schema in a getter when first read.
  const document = JSON.parse(JSON.stringify(openApiDocument('0.0.0')));
  // defaultNonNullable: false — a field with a default is one a caller may leave out (allDay, role, …).
  return HEADER + astToString(await openapiTS(document, { exportType: false, defaultNonNullable: false }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(CLIENT_TYPES_FILE, await clientTypes());
  process.stderr.write(`invite-mailer: wrote ${CLIENT_TYPES_FILE}\n`);
}
