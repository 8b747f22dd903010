import { fileURLToPath } from 'node:url';

export { startArgs } from '../../scripts/start-command.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
