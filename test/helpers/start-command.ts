import { fileURLToPath } from 'node:url';

export { startArgs } from '../../src/cli/start-command.cjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
