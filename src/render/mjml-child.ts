/**
 * The MJML compiler process (see mjml.ts): compiles the files it is sent,
 * answers once, exits.
 */
import { compileHere } from './mjml.ts';

process.once('message', async (message: { paths: string[]; root: string }) => {
  process.send!({ results: await compileHere(message.paths, message.root) }, () => process.disconnect());
});
