// zod/mini with the English issue messages full zod installs on import. The runtime bundles zod/mini, not zod:
// full zod is ~450 KB of the bundle and ~40 ms of every sandbox's start, the English locale ~4 KB.
import { en } from 'zod/locales';
import { config } from 'zod/mini';

config(en());

export * from 'zod/mini';
